#!/usr/bin/env python3
"""Writes OUT/config.yaml: CONFIG with epochs, threads and data.limit set, the run named
`compare` with its checkpoints under OUT, and a warm-up longer than the shortened run cut
to a tenth of its steps — the one config both sides of a comparison read.

    python3 bench/shortened_config.py CONFIG OUT EPOCHS THREADS LIMIT
"""
import sys

import yaml

config, out = sys.argv[1], sys.argv[2]
epochs, threads, limit = (int(v) for v in sys.argv[3:6])
c = yaml.safe_load(open(config))
c["name"] = "compare"
c["checkpoint"] = {"directory": out, "keep": 1}
train, data = c.setdefault("train", {}), c.setdefault("data", {})
train["epochs"], train["threads"], data["limit"] = epochs, threads, limit
steps = epochs * (((limit or 60000) - data.get("validation", 0)) // train.get("batch_size", 128))
schedule = train.get("schedule") or {}
if schedule.get("warmup_steps", 0) >= steps:
    schedule["warmup_steps"] = steps // 10
    print(f"shortened_config: warm-up cut to {steps // 10} of the run's {steps} steps", file=sys.stderr)
yaml.safe_dump(c, open(f"{out}/config.yaml", "w"))
