# LoRAKit: the two set-up commands are `make demo` and `make test`.
SWIFT ?= swift
CONFIG ?= release
BIN = .build/$(CONFIG)/lora-tool
EXAMPLE = Examples/example-lora.safetensors
TINY = Tests/LoRAKitTests/Fixtures/merge
DEMO_OUT = .build/demo

.PHONY: demo test build deps clean fixtures

deps:
	@bash Scripts/install-system-deps.sh

build: deps
	$(SWIFT) build -c $(CONFIG) --product lora-tool

demo: build
	@mkdir -p $(DEMO_OUT)
	@echo "== 1. What is in a LoRA file: lora-tool inspect $(EXAMPLE)"
	@$(BIN) inspect $(EXAMPLE) | awk '/^NAME /{exit} {print}'
	@echo
	@echo "== 2. The InvokeAI LCM recipe, baked: LCM-LoRA at 0.35 + a style LoRA at 0.45 into a (tiny) SD1 pipeline"
	@$(BIN) merge --force --base $(TINY)/sd1 \
		--lora $(TINY)/lora/sd1_lcm_style.safetensors:0.35 --lora $(TINY)/lora/sd1_kohya.safetensors:0.45 \
		--output $(DEMO_OUT)/sd1-lcm
	@echo
	@echo "== 3. Two LoRAs merged exactly into one LoRA file"
	@$(BIN) merge --force --lora $(TINY)/lora/sd1_kohya.safetensors:0.6 --lora $(TINY)/lora/sd1_second.safetensors:0.4 \
		--output $(DEMO_OUT)/merged-lora.safetensors
	@echo
	@echo "== 4. The timesteps an LCM run uses at 4 steps"
	@$(BIN) schedule --scheduler lcm --steps 4
	@echo
	@echo "== 5. Generate with the LCM recipe (4 steps, CFG 1) on a tiny random-weight SD1 pipeline:"
	@echo "      its weights are random, so the 32×32 picture is abstract; give --model a real SD1.5 folder for a real one"
	@$(BIN) generate --force --model Tests/DiffusionCoreTests/Fixtures/pipeline/sd1-tiny --lcm --seed 42 \
		--prompt "a photo of an astronaut riding a horse" --output $(DEMO_OUT)/lcm.png

test: deps
	$(SWIFT) test

# Regenerates the committed fixtures with the Python reference stack in .venv-ref/ (created if missing).
fixtures:
	@bash Scripts/fixtures/setup.sh
	.venv-ref/bin/python Scripts/fixtures/make_fixtures.py

clean:
	rm -rf .build
