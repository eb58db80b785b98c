// PNG and JPEG coding for DiffusionCore through libpng and libjpeg-turbo. Every libpng/libjpeg error
// (which those libraries report with longjmp) becomes a return code and a message here, so Swift never
// sees a jump and a damaged file can never stop the process.
#pragma once

#include <stddef.h>
#include <stdint.h>

enum {
    DK_IMAGE_OK = 0,
    DK_IMAGE_NOT_PNG = 1,        // the data does not start with the PNG signature
    DK_IMAGE_NOT_JPEG = 2,       // the data does not start with a JPEG SOI marker
    DK_IMAGE_CORRUPT = 3,        // the decoder stopped: truncated data, bad CRC, bad chunk or marker
    DK_IMAGE_TOO_LARGE = 4,      // width × height exceeds the caller's limit, or a dimension is 0
    DK_IMAGE_UNSUPPORTED = 5,    // a valid file of a kind this shim does not convert (CMYK JPEG, …)
    DK_IMAGE_NO_MEMORY = 6,
    DK_IMAGE_ENCODE_FAILED = 7,
};

/// A decoded picture: `height` rows of `width` pixels of `channels` samples (1 gray, 2 gray+alpha,
/// 3 RGB, 4 RGBA), each sample 8 bits (`bit_depth` 8, uint8_t) or 16 bits (`bit_depth` 16, native-endian
/// uint16_t). Free `pixels` with dk_image_free.
typedef struct {
    uint32_t width;
    uint32_t height;
    uint32_t channels;
    uint32_t bit_depth;
    void *pixels;
} dk_decoded_image;

/// One text chunk to write: Latin-1 text goes into a tEXt chunk, anything else into an uncompressed iTXt
/// chunk (UTF-8), as Pillow's PngInfo.add_text does.
typedef struct {
    const char *keyword;   // 1–79 Latin-1 characters
    const char *text;      // Latin-1 bytes (tEXt) or UTF-8 (iTXt)
    size_t length;
    int international;     // 0: tEXt, 1: iTXt
} dk_png_text;

/// Decodes a PNG held in memory. Palette images become RGB (RGBA with a tRNS chunk), gray below 8 bits
/// becomes 8-bit gray, 16-bit samples stay 16-bit. Refuses images with more than `max_pixels` pixels before
/// allocating them. Returns DK_IMAGE_OK or an error code with a message in `message`.
int dk_png_decode(const uint8_t *data, size_t size, uint64_t max_pixels, dk_decoded_image *out,
                  char *message, size_t message_capacity);

/// Decodes a baseline or progressive JPEG held in memory to 8-bit RGB (gray JPEGs become 8-bit gray),
/// with libjpeg's default accurate integer IDCT and fancy upsampling (as Pillow decodes).
int dk_jpeg_decode(const uint8_t *data, size_t size, uint64_t max_pixels, dk_decoded_image *out,
                   char *message, size_t message_capacity);

/// Encodes 8-bit RGB pixels (rows of width × 3 bytes) as a PNG in memory, with text chunks before the
/// image data. Free `*out` with dk_image_free.
int dk_png_encode_rgb8(const uint8_t *rgb, uint32_t width, uint32_t height, const dk_png_text *texts,
                       size_t text_count, uint8_t **out, size_t *out_size, char *message,
                       size_t message_capacity);

/// Frees a buffer returned by the functions above.
void dk_image_free(void *pointer);
