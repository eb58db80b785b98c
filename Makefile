# LoRAKit: the two set-up commands are `make demo` and `make test`.
SWIFT ?= swift
CONFIG ?= release
BIN = .build/$(CONFIG)/lora-tool
EXAMPLE = Examples/example-lora.safetensors

.PHONY: demo test build deps clean

deps:
	@bash Scripts/install-system-deps.sh

build: deps
	$(SWIFT) build -c $(CONFIG) --product lora-tool

demo: build
	@echo "== lora-tool inspect $(EXAMPLE)"
	@$(BIN) inspect $(EXAMPLE)

test: deps
	$(SWIFT) test

clean:
	rm -rf .build
