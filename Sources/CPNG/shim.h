// libpng, which CImageCodecs drives (its errors longjmp, so Swift never calls it directly).
#include <png.h>
