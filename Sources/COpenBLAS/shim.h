#include <cblas.h>

/* OpenBLAS (DYNAMIC_ARCH builds) exports these; they pick the kernel set for the CPU,
   reading OPENBLAS_CORETYPE. Declared here because cblas.h does not. */
void gotoblas_dynamic_init(void);
void gotoblas_dynamic_quit(void);
