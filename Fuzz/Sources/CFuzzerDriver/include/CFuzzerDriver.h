#ifndef LORAKIT_FUZZER_DRIVER_H
#define LORAKIT_FUZZER_DRIVER_H
#include <stddef.h>
#include <stdint.h>

/// Runs libFuzzer's driver (command-line flags, corpus, mutation loop) over `callback`.
int lorakit_run_fuzzer(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
