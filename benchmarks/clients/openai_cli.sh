#!/usr/bin/env bash
# The `openai` 1.x command line's fine-tuning workflow, as a user types it.
#   OPENAI=/path/to/venv/bin/openai bash benchmarks/clients/openai_cli.sh
# Needs OPENAI_BASE_URL and OPENAI_API_KEY (the harness sets them) and jq.
set -euo pipefail
OPENAI=${OPENAI:-openai}
here=$(cd "$(dirname "$0")/../.." && pwd)
train=$here/fixtures/train_chat.jsonl
valid=$here/fixtures/valid_chat.jsonl

step() { printf '\n$ openai %s\n' "$*"; }
run() { step "$@"; "$OPENAI" "$@" | tee /tmp/openai-cli.$$; }

run api files.create -f "$train" -p fine-tune
train_id=$(jq -r .id /tmp/openai-cli.$$)
run api files.create -f "$valid" -p fine-tune
valid_id=$(jq -r .id /tmp/openai-cli.$$)
# files.retrieve and files.delete are broken in the 1.x CLI itself (they validate their
# arguments as files.create's and stop before sending anything): not used here.
run api files.list

run api fine_tuning.jobs.create -m gpt-4o-mini -F "$train_id" -V "$valid_id" -s cli-test
job=$(jq -r .id /tmp/openai-cli.$$)
test "$(jq -r .status /tmp/openai-cli.$$)" = validating_files
run api fine_tuning.jobs.retrieve -i "$job"
run api fine_tuning.jobs.list
run api fine_tuning.jobs.list -l 1
run api fine_tuning.jobs.list_events -i "$job"

status=validating_files
for _ in $(seq 1 120); do
  "$OPENAI" api fine_tuning.jobs.retrieve -i "$job" > /tmp/openai-cli.$$
  status=$(jq -r .status /tmp/openai-cli.$$)
  echo "poll: $status"
  case $status in succeeded|failed|cancelled) break ;; esac
  sleep 1
done
cat /tmp/openai-cli.$$
test "$status" = succeeded
model=$(jq -r .fine_tuned_model /tmp/openai-cli.$$)
result=$(jq -r '.result_files[0]' /tmp/openai-cli.$$)

run api fine_tuning.jobs.list_events -i "$job" -l 50
run api models.list
run api models.retrieve -i "$model"
run api chat.completions.create -m "$model" -g user "How do I cook rice?"
step api chat.completions.create --stream
"$OPENAI" api chat.completions.create -m "$model" -g user "Hello" --stream
echo

# a second job, cancelled while it validates
run api fine_tuning.jobs.create -m gpt-4o-mini -F "$train_id"
job2=$(jq -r .id /tmp/openai-cli.$$)
# (on a fast system clock the job may have ended already: the API then refuses with 400)
step api fine_tuning.jobs.cancel -i "$job2"
"$OPENAI" api fine_tuning.jobs.cancel -i "$job2" || echo "cancel refused: the job had ended"
run api fine_tuning.jobs.list
run api fine_tuning.jobs.list -a "$job2"

# errors as a user meets them
step api fine_tuning.jobs.retrieve -i ftjob-nonexistent
"$OPENAI" api fine_tuning.jobs.retrieve -i ftjob-nonexistent || echo "exit $?"
step api fine_tuning.jobs.create -m gpt-4o-mini -F file-nonexistent
"$OPENAI" api fine_tuning.jobs.create -m gpt-4o-mini -F file-nonexistent || echo "exit $?"

run api models.delete -i "$model"
rm -f /tmp/openai-cli.$$
echo "workflow complete"
