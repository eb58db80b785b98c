// PNG decoding and encoding through libpng with its errors turned into return codes (see dk_image.h).
#include "dk_image.h"

#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

void dk_image_free(void *pointer) { free(pointer); }

static void dk_copy_message(char *dst, size_t cap, const char *src) {
    if (!dst || cap == 0) return;
    size_t n = strlen(src);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

typedef struct {
    const uint8_t *data;
    size_t size;
    size_t position;
    char *message;
    size_t message_capacity;
    // Owned allocations, released on every exit path (kept in memory, not registers, across longjmp).
    uint8_t *pixels;
    png_bytep *rows;
    uint8_t *encoded;
    size_t encoded_size;
    size_t encoded_capacity;
    int code;
} dk_png_context;

static void dk_png_error(png_structp png, png_const_charp text) {
    dk_png_context *ctx = (dk_png_context *)png_get_error_ptr(png);
    if (ctx->code == DK_IMAGE_OK) ctx->code = DK_IMAGE_CORRUPT;
    dk_copy_message(ctx->message, ctx->message_capacity, text);
    png_longjmp(png, 1);
}

static void dk_png_warning(png_structp png, png_const_charp text) {
    (void)png;
    (void)text;  // warnings (ancillary chunk CRCs, unknown chunks) are not errors; the library never prints
}

static void dk_png_read(png_structp png, png_bytep out, png_size_t length) {
    dk_png_context *ctx = (dk_png_context *)png_get_io_ptr(png);
    if (length > ctx->size - ctx->position) {
        ctx->code = DK_IMAGE_CORRUPT;
        png_error(png, "the file ends before the image data is complete (truncated)");
    }
    memcpy(out, ctx->data + ctx->position, length);
    ctx->position += length;
}

static int dk_little_endian(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

int dk_png_decode(const uint8_t *data, size_t size, uint64_t max_pixels, dk_decoded_image *out,
                  char *message, size_t message_capacity) {
    memset(out, 0, sizeof *out);
    if (size < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0) {
        dk_copy_message(message, message_capacity, "not a PNG file (no PNG signature)");
        return DK_IMAGE_NOT_PNG;
    }
    dk_png_context ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.data = data;
    ctx.size = size;
    ctx.message = message;
    ctx.message_capacity = message_capacity;
    dk_png_context *volatile pctx = &ctx;

    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, dk_png_error, dk_png_warning);
    if (!png) {
        dk_copy_message(message, message_capacity, "out of memory");
        return DK_IMAGE_NO_MEMORY;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        dk_copy_message(message, message_capacity, "out of memory");
        return DK_IMAGE_NO_MEMORY;
    }
    if (setjmp(png_jmpbuf(png))) {
        int code = pctx->code == DK_IMAGE_OK ? DK_IMAGE_CORRUPT : pctx->code;
        free(pctx->pixels);
        free(pctx->rows);
        png_destroy_read_struct(&png, &info, NULL);
        return code;
    }
    png_set_read_fn(png, &ctx, dk_png_read);
    png_set_user_limits(png, 0x7fffffffu, 0x7fffffffu);
    png_read_info(png, info);

    png_uint_32 width = 0, height = 0;
    int bit_depth = 0, color_type = 0;
    png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, NULL, NULL, NULL);
    if (width == 0 || height == 0 || (uint64_t)width * (uint64_t)height > max_pixels) {
        ctx.code = DK_IMAGE_TOO_LARGE;
        png_error(png, "image dimensions exceed the limit");
    }
    png_set_expand(png);  // palette → RGB, gray below 8 bits → 8 bits, tRNS → alpha
    if (bit_depth == 16 && dk_little_endian()) png_set_swap(png);
    (void)png_set_interlace_handling(png);
    png_read_update_info(png, info);

    const uint32_t channels = png_get_channels(png, info);
    const uint32_t depth = png_get_bit_depth(png, info);
    const size_t row_bytes = png_get_rowbytes(png, info);
    if ((depth != 8 && depth != 16) || channels < 1 || channels > 4 ||
        row_bytes != (size_t)width * channels * (depth / 8)) {
        ctx.code = DK_IMAGE_UNSUPPORTED;
        png_error(png, "unexpected pixel layout after expansion");
    }
    if (height > SIZE_MAX / row_bytes) {
        ctx.code = DK_IMAGE_TOO_LARGE;
        png_error(png, "image too large for memory");
    }
    ctx.pixels = (uint8_t *)malloc(row_bytes * height);
    ctx.rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
    if (!ctx.pixels || !ctx.rows) {
        ctx.code = DK_IMAGE_NO_MEMORY;
        png_error(png, "out of memory");
    }
    for (png_uint_32 y = 0; y < height; y++) ctx.rows[y] = ctx.pixels + (size_t)y * row_bytes;
    png_read_image(png, ctx.rows);
    png_read_end(png, NULL);

    out->width = width;
    out->height = height;
    out->channels = channels;
    out->bit_depth = depth;
    out->pixels = ctx.pixels;
    free(ctx.rows);
    png_destroy_read_struct(&png, &info, NULL);
    return DK_IMAGE_OK;
}

static void dk_png_write(png_structp png, png_bytep bytes, png_size_t length) {
    dk_png_context *ctx = (dk_png_context *)png_get_io_ptr(png);
    if (length > ctx->encoded_capacity - ctx->encoded_size) {
        size_t capacity = ctx->encoded_capacity ? ctx->encoded_capacity : 65536;
        while (length > capacity - ctx->encoded_size) {
            if (capacity > SIZE_MAX / 2) {
                ctx->code = DK_IMAGE_NO_MEMORY;
                png_error(png, "out of memory");
            }
            capacity *= 2;
        }
        uint8_t *grown = (uint8_t *)realloc(ctx->encoded, capacity);
        if (!grown) {
            ctx->code = DK_IMAGE_NO_MEMORY;
            png_error(png, "out of memory");
        }
        ctx->encoded = grown;
        ctx->encoded_capacity = capacity;
    }
    memcpy(ctx->encoded + ctx->encoded_size, bytes, length);
    ctx->encoded_size += length;
}

static void dk_png_flush(png_structp png) { (void)png; }

int dk_png_encode_rgb8(const uint8_t *rgb, uint32_t width, uint32_t height, const dk_png_text *texts,
                       size_t text_count, uint8_t **out, size_t *out_size, char *message,
                       size_t message_capacity) {
    *out = NULL;
    *out_size = 0;
    if (width == 0 || height == 0 || width > 0x7fffffffu / 3 || height > 0x7fffffffu) {
        dk_copy_message(message, message_capacity, "image dimensions out of range");
        return DK_IMAGE_TOO_LARGE;
    }
    dk_png_context ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.message = message;
    ctx.message_capacity = message_capacity;
    dk_png_context *volatile pctx = &ctx;
    png_text *volatile chunks = NULL;

    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, dk_png_error, dk_png_warning);
    if (!png) return DK_IMAGE_NO_MEMORY;
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return DK_IMAGE_NO_MEMORY;
    }
    if (setjmp(png_jmpbuf(png))) {
        int code = pctx->code == DK_IMAGE_OK || pctx->code == DK_IMAGE_CORRUPT ? DK_IMAGE_ENCODE_FAILED : pctx->code;
        free(pctx->encoded);
        free(chunks);
        png_destroy_write_struct(&png, &info);
        return code;
    }
    png_set_write_fn(png, &ctx, dk_png_write, dk_png_flush);
    png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (text_count > 0) {
        chunks = (png_text *)calloc(text_count, sizeof(png_text));
        if (!chunks) {
            ctx.code = DK_IMAGE_NO_MEMORY;
            png_error(png, "out of memory");
        }
        for (size_t i = 0; i < text_count; i++) {
            chunks[i].compression = texts[i].international ? PNG_ITXT_COMPRESSION_NONE : PNG_TEXT_COMPRESSION_NONE;
            chunks[i].key = (png_charp)texts[i].keyword;
            chunks[i].text = (png_charp)texts[i].text;
            chunks[i].text_length = texts[i].international ? 0 : texts[i].length;
            chunks[i].itxt_length = texts[i].international ? texts[i].length : 0;
            chunks[i].lang = NULL;
            chunks[i].lang_key = NULL;
        }
        png_set_text(png, info, chunks, (int)text_count);
    }
    png_write_info(png, info);
    const size_t row_bytes = (size_t)width * 3;
    for (uint32_t y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * row_bytes));
    png_write_end(png, NULL);
    free(chunks);
    png_destroy_write_struct(&png, &info);
    *out = ctx.encoded;
    *out_size = ctx.encoded_size;
    return DK_IMAGE_OK;
}
