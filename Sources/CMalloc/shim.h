/* glibc's malloc tuning (mallopt and its parameter names), which the Glibc module leaves out. */
#include <malloc.h>
