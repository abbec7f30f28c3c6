#include "CVectorKernels.h"

/// Each thread's product precision (0: fp32, 1: bf16), read by `ComputePrecision.current`.
static _Thread_local int thread_precision;

int csd_thread_precision(void) { return thread_precision; }

void csd_set_thread_precision(int precision) { thread_precision = precision; }
