// A JPEG decoder call Swift can make: libjpeg reports errors by longjmp from a callback,
// which Swift cannot catch, so this C function sets the jump and returns a status with
// libjpeg's own message instead. Warnings (a file cut short, corrupt data that libjpeg
// would paper over with grey) count as errors: a data set wants every pixel real.
#ifndef PHALANX_JPEG_H
#define PHALANX_JPEG_H

#include <stddef.h>

/// What a decode found; `message` holds libjpeg's text when the status is 1.
typedef struct {
    int width;
    int height;
    /// Components in the file: 1 greyscale, 3 colour (YCbCr/RGB), 4 CMYK/YCCK.
    int components;
    char message[200];
} phx_jpeg_info;

/// Reads the JPEG file at `path`. With `out` NULL, only the header (fills `info`).
/// Otherwise decodes `channels` (1 greyscale, 3 RGB, converted by libjpeg) bytes a pixel,
/// row-major, into `out`, which holds `capacity` bytes.
/// Returns 0 on success, 1 when the file cannot be opened or decoded (`info->message`),
/// 2 when the image does not fit `capacity` (`info` holds its size).
int phx_jpeg_decode(const char *path, int channels, unsigned char *out, size_t capacity, phx_jpeg_info *info);

#endif
