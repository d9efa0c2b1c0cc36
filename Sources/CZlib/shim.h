// zlib's gzip reader (gzopen, gzread, gzclose) for IDX data sets.
#include <zlib.h>
