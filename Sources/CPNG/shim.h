// libpng 1.6 from Debian's libpng-dev. Used only by the CImageCodecs shim, which wraps libpng's
// setjmp-based error handling in plain return codes.
#pragma once
#include <png.h>
