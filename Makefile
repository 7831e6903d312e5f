# DanceGRPO in Swift. Two commands matter (see README): `make run` and `make test`.
# The MLX engine wheel is named here and nowhere else: MLX_WHEEL=mlx-cuda-13 (Linux + NVIDIA) or MLX_WHEEL=mlx
# (macOS, Metal) moves the build to another back end without touching code.
MLX_WHEEL ?= mlx-cpu
MLX_VERSION ?= 0.32.4
export MLX_WHEEL MLX_VERSION

SWIFT ?= swift
RELEASE_BIN = .build/release

.PHONY: deps build run test lint format bench bench-grpo bench-scale goldens fuzz clean

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

# The parsers of untrusted files under libFuzzer and the address sanitizer, FUZZ_SECONDS each (scripts/fuzz.sh; built
# into .build-fuzz): committed regression inputs replayed first, then fuzzing from the seed corpus (Tests/Fuzz).
FUZZ_SECONDS ?= 60
fuzz: deps
	@scripts/fuzz.sh $(FUZZ_SECONDS)

# Swift sources as swift-format leaves them under .swift-format, lines ≤ 120 columns (CI runs it after the tests).
lint:
	@scripts/check-format.sh

format:
	swift-format format -i -r --configuration .swift-format Sources Tests Benchmarks Package.swift

bench: deps
	$(SWIFT) build -c release --product dancegrpo-bench
	$(RELEASE_BIN)/dancegrpo-bench $(ARGS)

# Seconds per GRPO iteration on a tiny FLUX: the Swift trainer (its default batching) against the PyTorch
# transcription of the seed's batch-1 loop and a batched PyTorch loop doing the same work (tools/bench/grpo_loop.py),
# alternated for ROUNDS=5 rounds, rounds with other work on the machine refused (scripts/bench-grpo.sh,
# tools/bench/grpo_rounds.py; TORCH_THREADS=2, BUSY_LIMIT=0.2 cores). ARGS go to the Swift side, e.g.
# ARGS="--rollout-batch 1 --transition-batch 1" for the seed's batching.
GRPO_BENCH_DIR ?= /tmp/dancegrpo-bench-grpo
bench-grpo: deps
	$(SWIFT) build -c release --product dancegrpo-bench
	@scripts/bench-grpo.sh $(GRPO_BENCH_DIR)/weights $(GRPO_BENCH_DIR) $(ARGS)

# Peak memory per rank and seconds per GRPO step of a FLUX-architecture transformer at 1, 2 and 4 ranks on loopback
# for each ZeRO stage, next to the memory plan's estimate and the seed's setup (Benchmarks/dancegrpo-bench/
# ScaleBench.swift). The default model (≈35M parameters) takes minutes on 2 cores; the issue's ≈300M model:
# ARGS="--heads 16 --double 4 --single 8" (about 6 GiB per rank at stage 0).
bench-scale: deps
	$(SWIFT) build -c release --product dancegrpo-bench
	$(RELEASE_BIN)/dancegrpo-bench scale $(ARGS)

# Regenerates the committed golden files (creates .venv-tools with torch & co. on first use; the tests never need it).
# clip_processor_layouts.py runs once per transformers major version, each in its own environment.
LAYOUT_GOLDENS = tools/goldens/clip_processor_layouts.py
goldens:
	@for script in $(filter-out $(LAYOUT_GOLDENS),$(wildcard tools/goldens/*.py)); do \
		echo "== $$script"; scripts/tools-env.sh python3 $$script || exit 1; done
	@for major in 4 5; do echo "== $(LAYOUT_GOLDENS) (transformers $$major)"; \
		TOOLS_REQUIREMENTS=tools/requirements-transformers$$major.txt scripts/tools-env.sh python3 $(LAYOUT_GOLDENS) \
		|| exit 1; done

clean:
	rm -rf .build
