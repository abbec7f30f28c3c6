#include "CVectorKernels.h"
#include <math.h>
#include <string.h>

#include "VectorMacros.h"

CSD_DISPATCH
float csd_exponentiate_row(float *p, long n) {
    long i = 0;
    float m = -INFINITY;
    f16v vm = SPLAT16(-INFINITY);
    for (; i + 16 <= n; i += 16) vm = __builtin_elementwise_max(vm, LOAD16(p + i));
    for (int l = 0; l < 16; l++) m = vm[l] > m ? vm[l] : m;
    for (; i < n; i++) m = p[i] > m ? p[i] : m;
    if (m == -INFINITY) {
        memset(p, 0, (size_t)n * sizeof(float));
        return 0;
    }
    const f16v vmax = SPLAT16(m);
    f16v vsum = SPLAT16(0);
    for (i = 0; i + 16 <= n; i += 16) {
        f16v e = EXP16(LOAD16(p + i) - vmax);
        STORE16(p + i, e);
        vsum += e;
    }
    float sum = 0;
    for (int l = 0; l < 16; l++) sum += vsum[l];
    for (; i < n; i++) {
        float e = expf(p[i] - m);
        p[i] = e;
        sum += e;
    }
    return sum;
}
