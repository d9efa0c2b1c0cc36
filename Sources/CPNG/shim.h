// libpng's simplified reading API (png_image_begin_read_from_file, png_image_finish_read)
// for image-folder data sets: it reports errors in the png_image, no setjmp needed.
#include <png.h>
