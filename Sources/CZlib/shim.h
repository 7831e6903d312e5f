// zlib, for the Imaging target's zlib streams and the Tokenizers target's gzip files.
#include <zlib.h>
