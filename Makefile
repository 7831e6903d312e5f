# DanceGRPO in Swift. Two commands matter (see README): `make run` and `make test`.
# The MLX engine wheel is named here and nowhere else: MLX_WHEEL=mlx-cuda-13 (Linux + NVIDIA) or MLX_WHEEL=mlx
# (macOS, Metal) moves the build to another back end without touching code.
MLX_WHEEL ?= mlx-cpu
MLX_VERSION ?= 0.32.4
export MLX_WHEEL MLX_VERSION

SWIFT ?= swift
RELEASE_BIN = .build/release

.PHONY: deps build run test bench bench-grpo goldens clean

deps:
	@scripts/setup-deps.sh

build: deps
	$(SWIFT) build -c release --product dancegrpo

# The main job on the embedded default.
run: build
	$(RELEASE_BIN)/dancegrpo $(ARGS)

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

bench: deps
	$(SWIFT) build -c release --product dancegrpo-bench
	$(RELEASE_BIN)/dancegrpo-bench $(ARGS)

# Seconds per GRPO iteration on a tiny FLUX: the Swift trainer, then a PyTorch transcription of the seed's loop
# (tools/bench/grpo_loop.py), on the same weights; each 1 warm-up + median of 3 iterations. ARGS go to the Swift side
# (e.g. ARGS="--rollout-batch 8 --transition-batch 4").
GRPO_BENCH_DIR ?= /tmp/dancegrpo-bench-grpo
bench-grpo: deps
	$(SWIFT) build -c release --product dancegrpo-bench
	@scripts/tools-env.sh python3 tools/bench/grpo_loop.py --write-weights $(GRPO_BENCH_DIR)/weights
	$(RELEASE_BIN)/dancegrpo-bench grpo --weights $(GRPO_BENCH_DIR)/weights $(ARGS) | tee $(GRPO_BENCH_DIR)/swift.txt
	scripts/tools-env.sh python3 tools/bench/grpo_loop.py --weights $(GRPO_BENCH_DIR)/weights --threads 2 | tee $(GRPO_BENCH_DIR)/torch.txt
	@swift=$$(sed -n 's/^swift grpo: \([0-9.]*\) s.*/\1/p' $(GRPO_BENCH_DIR)/swift.txt); \
	 torch=$$(sed -n 's/^torch grpo: \([0-9.]*\) s.*/\1/p' $(GRPO_BENCH_DIR)/torch.txt); \
	 echo "seconds/iteration: Swift $$swift, PyTorch $$torch, ratio (PyTorch/Swift, > 1 = Swift faster) $$(python3 -c "print(f'{$$torch/$$swift:.2f}')")"

# Regenerates the committed golden files (creates .venv-tools with torch & co. on first use; the tests never need it).
goldens:
	@for script in tools/goldens/*.py; do echo "== $$script"; scripts/tools-env.sh python3 $$script || exit 1; done

clean:
	rm -rf .build
