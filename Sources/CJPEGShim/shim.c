// libjpeg decoding with setjmp error recovery; see phalanx_jpeg.h.
#include "phalanx_jpeg.h"

#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <jpeglib.h>

typedef struct {
    struct jpeg_error_mgr manager;
    jmp_buf jump;
    phx_jpeg_info *info;
} phx_jpeg_error;

static void phx_jpeg_fail(j_common_ptr cinfo) {
    phx_jpeg_error *error = (phx_jpeg_error *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    snprintf(error->info->message, sizeof error->info->message, "%s", text);
    longjmp(error->jump, 1);
}

/// Level -1 is a warning (corrupt data, premature end of file): an error here.
static void phx_jpeg_emit(j_common_ptr cinfo, int level) {
    if (level < 0) phx_jpeg_fail(cinfo);
}

int phx_jpeg_decode(const char *path, int channels, unsigned char *out, size_t capacity, phx_jpeg_info *info) {
    memset(info, 0, sizeof *info);
    FILE *file = fopen(path, "rb");
    if (!file) {
        snprintf(info->message, sizeof info->message, "%s", strerror(errno));
        return 1;
    }
    struct jpeg_decompress_struct cinfo;
    phx_jpeg_error error;
    cinfo.err = jpeg_std_error(&error.manager);
    error.manager.error_exit = phx_jpeg_fail;
    error.manager.emit_message = phx_jpeg_emit;
    error.info = info;
    if (setjmp(error.jump)) {
        jpeg_destroy_decompress(&cinfo);
        fclose(file);
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, file);
    jpeg_read_header(&cinfo, TRUE);
    info->width = (int)cinfo.image_width;
    info->height = (int)cinfo.image_height;
    info->components = cinfo.num_components;
    if (!out) {
        jpeg_destroy_decompress(&cinfo);
        fclose(file);
        return 0;
    }
    size_t stride = (size_t)cinfo.image_width * (size_t)channels;
    if (stride * cinfo.image_height > capacity) {
        jpeg_destroy_decompress(&cinfo);
        fclose(file);
        return 2;
    }
    cinfo.out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW rows[1] = {out + (size_t)cinfo.output_scanline * stride};
        jpeg_read_scanlines(&cinfo, rows, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    fclose(file);
    return 0;
}
