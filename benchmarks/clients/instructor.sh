#!/usr/bin/env bash
# instructor's fine-tuning workflow: distil a function into a training file, upload and
# train with instructor's own CLI (`instructor files`, `instructor jobs`), then dispatch
# calls to the fine-tuned model.
#   VENV=/path/to/venv-with-instructor bash benchmarks/clients/instructor.sh
# Needs OPENAI_BASE_URL and OPENAI_API_KEY (the harness sets them) and jq.
set -uo pipefail
VENV=${VENV:?the venv where instructor is installed}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
cd "$work"
MODEL=${MODEL:-gpt-4o-mini-2024-07-18}
export COLUMNS=200  # rich's tables, unwrapped

step() { printf '\n$ %s\n' "$*"; }
step python instructor_distil.py distil math_finetunes.jsonl
"$VENV/bin/python" "$here/instructor_distil.py" distil math_finetunes.jsonl || exit 1
head -c 600 math_finetunes.jsonl; echo

step instructor files upload math_finetunes.jsonl
"$VENV/bin/instructor" files upload math_finetunes.jsonl --poll 1 || exit 1
step instructor files list
"$VENV/bin/instructor" files list

# `jobs create-from-file` uploads, waits for the file, creates the job and then watches the
# jobs table forever (Ctrl+C): give it a while, then stop it
step instructor jobs create-from-file math_finetunes.jsonl --model "$MODEL" --model-suffix distil --poll 1
timeout "${WATCH:-20}" "$VENV/bin/instructor" jobs create-from-file math_finetunes.jsonl \
  --model "$MODEL" --model-suffix distil --poll 1
echo "(watch stopped: exit $?)"

# what the watch table showed, read back through the SDK the CLI is built on
jobs=$("$VENV/bin/python" -c '
from openai import OpenAI
for j in OpenAI().fine_tuning.jobs.list(limit=5).data: print(j.id, j.status, j.fine_tuned_model, j.training_file)')
echo "$jobs"
job=$(echo "$jobs" | head -1 | cut -d' ' -f1)
model=$(echo "$jobs" | head -1 | cut -d' ' -f3)
file=$(echo "$jobs" | head -1 | cut -d' ' -f4)

# create-from-id also watches forever (2 s polls): stop it at once, then cancel the job
step instructor jobs create-from-id "$file" --model "$MODEL"
timeout 6 "$VENV/bin/instructor" jobs create-from-id "$file" --model "$MODEL"
second=$("$VENV/bin/python" -c '
from openai import OpenAI
print(OpenAI().fine_tuning.jobs.list(limit=1).data[0].id)')
[ "$second" != "$job" ] || { echo "create-from-id made no job"; exit 1; }
# (on a fast system clock the job may have ended already: the API then refuses with 400)
step instructor jobs cancel "$second"
"$VENV/bin/instructor" jobs cancel "$second"

# instructor 1.17 calls `client.files.download`, which openai>=1 does not have: this step
# fails before any request, against any server
step instructor files download "$file" downloaded.jsonl
"$VENV/bin/instructor" files download "$file" downloaded.jsonl && cmp downloaded.jsonl math_finetunes.jsonl && echo "download: same bytes"

step python instructor_distil.py dispatch "$model"
"$VENV/bin/python" "$here/instructor_distil.py" dispatch "$model"
dispatched=$?

step instructor files delete "$file"
"$VENV/bin/instructor" files delete "$file"
# (`instructor usage list` is left out: it calls api.openai.com itself, whatever the base URL)
rm -rf "$work"
[ "$dispatched" = 0 ] && echo "workflow complete"
