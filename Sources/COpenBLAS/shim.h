// OpenBLAS (CBLAS interface, 32-bit indices) and LAPACKE from Debian's
// libopenblas-dev and liblapacke-dev. Imported only by LoRAKit's internal
// linear-algebra layer and DiffusionCore's kernels.
#pragma once
#include <cblas.h>
#include <lapacke.h>
