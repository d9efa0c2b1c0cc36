// libjpeg-turbo's libjpeg API, for image-folder data sets. Its errors longjmp, which
// Swift cannot do: CJPEGShim wraps a decode in C.
#include <stdio.h>
#include <jpeglib.h>
