"""Local stand-ins for the data the cookbook notebooks download or keep in their repo.

    python -m benchmarks.clients.cookbook_data recipes DIR   # DIR/data/cookbook_recipes_nlg_10k.csv
    python -m benchmarks.clients.cookbook_data newsgroups DIR  # scikit-learn's 20 newsgroups cache

The notebooks are run unchanged: "How to fine-tune chat models" reads
``data/cookbook_recipes_nlg_10k.csv`` (RecipeNLG rows: title, ingredients, directions,
link, source, NER), and "Fine-tuned classification" calls
``sklearn.datasets.fetch_20newsgroups``, which reads its cache under ``$SCIKIT_LEARN_DATA``
before it would download anything. Both are made here from small word lists, seeded, so
the runs repeat. The texts are not real recipes or newsgroup posts; the notebooks only
need their shape.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from pathlib import Path

_FOODS = [
    "brown sugar",
    "milk",
    "vanilla",
    "nuts",
    "butter",
    "chicken breasts",
    "cream cheese",
    "frozen corn",
    "garlic powder",
    "salt",
    "pepper",
    "peanut butter",
    "chocolate chips",
    "flour",
    "eggs",
    "onion",
    "celery",
    "rice",
    "tomato sauce",
    "ground beef",
    "cheddar",
    "baking soda",
    "cinnamon",
    "oats",
    "raisins",
    "lemon juice",
    "sour cream",
    "mushrooms",
]
_AMOUNTS = ["1 c.", "1/2 c.", "2 Tbsp.", "1 tsp.", "1 (8 oz.) pkg.", "3 large", "1 lb."]
_DISHES = ["Casserole", "Cookies", "Pie", "Salad", "Soup", "Bars", "Bake", "Dip", "Cake"]


def recipes(root: Path, rows: int = 400, seed: int = 0) -> Path:
    rng = random.Random(seed)
    path = root / "data" / "cookbook_recipes_nlg_10k.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["title", "ingredients", "directions", "link", "source", "NER"])
        for i in range(rows):
            foods = rng.sample(_FOODS, rng.randint(3, 8))
            title = f"{foods[0].title()} {rng.choice(_DISHES)}"
            ingredients = [f"{rng.choice(_AMOUNTS)} {food}" for food in foods]
            directions = [f"Mix the {food}." for food in foods[:3]] + ["Bake 30 minutes."]
            link = f"www.cookbooks.com/Recipe-Details.aspx?id={1000 + i}"
            out.writerow(
                [
                    title,
                    json.dumps(ingredients),
                    json.dumps(directions),
                    link,
                    "www.cookbooks.com",
                    json.dumps(foods),
                ]
            )
    return path


_TEAMS = {
    "baseball": ["Tribe", "Yankees", "Red Sox", "Cubs", "pitcher", "home run", "inning"],
    "hockey": ["Canes", "Red Wings", "Leafs", "Bruins", "goalie", "power play", "period"],
}


def newsgroups(root: Path, per_class: int = 600, seed: int = 0) -> Path:
    """Write scikit-learn's ``20news-bydate_py3.pkz`` cache under ``root`` (use it as
    ``SCIKIT_LEARN_DATA``), holding the two sport groups the notebook asks for."""
    import codecs
    import pickle

    import numpy as np  # scikit-learn's own, in the notebook's environment
    from sklearn.utils import Bunch

    rng = random.Random(seed)
    data, target = [], []
    for label, words in enumerate(_TEAMS.values()):
        for i in range(per_class):
            picked = rng.sample(words, 4)
            body = " ".join(
                f"I think the {w} looked {rng.choice(['great', 'awful', 'tired'])}." for w in picked
            )
            data.append(f"From: fan{i}@example.edu\nSubject: Re: {picked[0]}\n\n{body}\n")
            target.append(label)
    names = [f"rec.sport.{name}" for name in _TEAMS]

    def split() -> Bunch:  # fetch_20newsgroups filters by category and shuffles itself
        return Bunch(
            data=list(data),
            target=np.array(target),
            filenames=np.array([f"/20news/{i}" for i in range(len(data))]),
            target_names=names,
            DESCR="local stand-in",
        )

    cache = {"train": split(), "test": split()}
    path = root / "20news-bydate_py3.pkz"
    root.mkdir(parents=True, exist_ok=True)
    path.write_bytes(codecs.encode(pickle.dumps(cache), "zlib_codec"))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["recipes", "newsgroups"])
    parser.add_argument("dir", type=Path)
    args = parser.parse_args()
    made = recipes(args.dir) if args.what == "recipes" else newsgroups(args.dir)
    print(made)


if __name__ == "__main__":
    main()
