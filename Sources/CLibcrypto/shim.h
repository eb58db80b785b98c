// SHA-256 from Debian's libcrypto (libssl-dev). The one-shot context API needs no provider and cannot
// fail; its block function uses the CPU's SHA extensions when present (chosen at run time). OpenSSL 3
// marks it deprecated in favour of EVP, which adds a provider lookup and an allocation for nothing here.
// Imported only by LoRAKit's file hashing.
#pragma once
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/sha.h>
