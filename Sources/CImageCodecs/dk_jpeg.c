// JPEG decoding through libjpeg-turbo with its errors turned into return codes (see dk_image.h).
// libjpeg reports damaged data (a truncated file, a bad Huffman code) as a warning and carries on with
// made-up pixels; here those warnings stop decoding, so a damaged file is an error, never a picture.
// Harmless warnings (extraneous bytes between markers, as some cameras write) are tolerated, as Pillow does.
#include "dk_image.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

typedef struct {
    struct jpeg_error_mgr manager;
    jmp_buf jump;
    int code;
    char *message;
    size_t message_capacity;
    uint8_t *pixels;
} dk_jpeg_error;

static void dk_jpeg_record(j_common_ptr cinfo, int code) {
    dk_jpeg_error *err = (dk_jpeg_error *)cinfo->err;
    if (err->code == DK_IMAGE_OK) err->code = code;
    if (err->message && err->message_capacity >= JMSG_LENGTH_MAX) {
        (*cinfo->err->format_message)(cinfo, err->message);
    } else if (err->message && err->message_capacity > 0) {
        char buffer[JMSG_LENGTH_MAX];
        (*cinfo->err->format_message)(cinfo, buffer);
        size_t n = strlen(buffer);
        if (n >= err->message_capacity) n = err->message_capacity - 1;
        memcpy(err->message, buffer, n);
        err->message[n] = 0;
    }
}

static void dk_jpeg_error_exit(j_common_ptr cinfo) {
    dk_jpeg_record(cinfo, DK_IMAGE_CORRUPT);
    longjmp(((dk_jpeg_error *)cinfo->err)->jump, 1);
}

static void dk_jpeg_emit_message(j_common_ptr cinfo, int level) {
    const int code = cinfo->err->msg_code;
    if (level < 0 && (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_HUFF_BAD_CODE ||
                      code == JWRN_MUST_RESYNC || code == JWRN_NOT_SEQUENTIAL)) {
        dk_jpeg_record(cinfo, DK_IMAGE_CORRUPT);
        longjmp(((dk_jpeg_error *)cinfo->err)->jump, 1);
    }
}

static void dk_jpeg_output_message(j_common_ptr cinfo) { (void)cinfo; }

int dk_jpeg_decode(const uint8_t *data, size_t size, uint64_t max_pixels, dk_decoded_image *out,
                   char *message, size_t message_capacity) {
    memset(out, 0, sizeof *out);
    if (size < 3 || data[0] != 0xFF || data[1] != 0xD8 || data[2] != 0xFF) {
        if (message && message_capacity) snprintf(message, message_capacity, "not a JPEG file (no SOI marker)");
        return DK_IMAGE_NOT_JPEG;
    }
    struct jpeg_decompress_struct cinfo;
    dk_jpeg_error err;
    memset(&err, 0, sizeof err);
    err.message = message;
    err.message_capacity = message_capacity;
    dk_jpeg_error *volatile perr = &err;
    cinfo.err = jpeg_std_error(&err.manager);
    err.manager.error_exit = dk_jpeg_error_exit;
    err.manager.emit_message = dk_jpeg_emit_message;
    err.manager.output_message = dk_jpeg_output_message;
    if (setjmp(err.jump)) {
        int code = perr->code == DK_IMAGE_OK ? DK_IMAGE_CORRUPT : perr->code;
        free(perr->pixels);
        jpeg_destroy_decompress(&cinfo);
        return code;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, (const unsigned char *)data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.image_width == 0 || cinfo.image_height == 0 ||
        (uint64_t)cinfo.image_width * (uint64_t)cinfo.image_height > max_pixels) {
        err.code = DK_IMAGE_TOO_LARGE;
        if (message && message_capacity) snprintf(message, message_capacity, "image dimensions exceed the limit");
        longjmp(err.jump, 1);
    }
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        err.code = DK_IMAGE_UNSUPPORTED;
        if (message && message_capacity) snprintf(message, message_capacity, "CMYK JPEG files are not supported");
        longjmp(err.jump, 1);
    }
    const int gray = cinfo.num_components == 1;
    cinfo.out_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    const uint32_t channels = (uint32_t)cinfo.output_components;
    const size_t row_bytes = (size_t)cinfo.output_width * channels;
    err.pixels = (uint8_t *)malloc(row_bytes * cinfo.output_height);
    if (!err.pixels) {
        err.code = DK_IMAGE_NO_MEMORY;
        if (message && message_capacity) snprintf(message, message_capacity, "out of memory");
        longjmp(err.jump, 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = err.pixels + (size_t)cinfo.output_scanline * row_bytes;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    out->width = cinfo.output_width;
    out->height = cinfo.output_height;
    out->channels = channels;
    out->bit_depth = 8;
    out->pixels = err.pixels;
    jpeg_destroy_decompress(&cinfo);
    return DK_IMAGE_OK;
}
