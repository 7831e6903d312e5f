// libjpeg(-turbo), which CImageCodecs drives (its errors longjmp, so Swift never calls it directly).
#include <stddef.h>
#include <stdio.h>
#include <jpeglib.h>
