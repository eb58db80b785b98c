// zlib from Debian's zlib1g-dev, for reading gzip data (the built-in CLIP vocabulary).
#pragma once
#include <zlib.h>

// inflateInit2 is a macro; this makes it callable from Swift. 16 + MAX_WBITS reads a gzip stream.
static inline int czlib_inflate_init_gzip(z_stream *stream) {
    return inflateInit2(stream, 16 + MAX_WBITS);
}
