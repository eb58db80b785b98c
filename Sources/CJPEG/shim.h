// libjpeg-turbo (libjpeg 6.2 API) from Debian's libjpeg62-turbo-dev. Used only by the CImageCodecs shim.
#pragma once
#include <stdio.h>
#include <jpeglib.h>
