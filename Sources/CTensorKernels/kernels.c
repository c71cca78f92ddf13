#include "CTensorKernels.h"
#include <math.h>
#include <string.h>

// Each public loop is compiled three times and chosen by the CPU at load time.
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
// Reductions may be reassociated (vectorised); each row's order is still fixed, so runs reproduce.
#define REASSOC _Pragma("clang fp reassociate(on)")
// Elementwise loops whose input and output may be the same buffer (same index only), which is safe
// to vectorise; without this clang's overlap check sends in-place calls down the scalar path.
#define SAME_INDEX_ALIASING _Pragma("clang loop vectorize(assume_safety)")

// Round to nearest even, NaN kept NaN (quieted), as torch.
static inline uint16_t bf16_round(float x) {
    uint32_t bits;
    memcpy(&bits, &x, 4);
    uint32_t rounded = (bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16;
    int is_nan = (bits & 0x7FFFFFFFu) > 0x7F800000u;
    return (uint16_t)(is_nan ? ((bits >> 16) | 0x40u) : rounded);
}

static inline float clampf(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }

static inline float exp_approx(float x) {
    float c = clampf(x, -87.0f, 88.0f);
    // Round c·log2(e) to an integer n with the 1.5·2^23 trick; n sits in the low mantissa bits.
    float shifted = c * 1.44269504f + 12582912.0f;
    float n = shifted - 12582912.0f;
    float r = (c - n * 0.693145751953125f) - n * 1.428606765330187045e-6f;
    float p = 1.0f / 5040;
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    uint32_t bits;
    memcpy(&bits, &shifted, 4);
    uint32_t e = (bits - 0x4B400000u + 127u) << 23;
    float scale;
    memcpy(&scale, &e, 4);
    return p * scale;
}

// erfc(a)·e^(a²) for a ≥ 1: degree-12 polynomial in 1/a, Chebyshev fit on [1, 10]
// (Tests/Fixtures/fastmath/fit.py), relative error < 3e-7 in float.
static inline float erfc_scaled(float a) {
    float t = 1.0f / clampf(a, 1.0f, 10.0f);
    float p = 0.05088939564915216f;
    p = p * t - 0.3242572142239657f;
    p = p * t + 0.8650042720669997f;
    p = p * t - 1.169185284375531f;
    p = p * t + 0.5971631540302241f;
    p = p * t + 0.5740100165046319f;
    p = p * t - 1.2560369562542983f;
    p = p * t + 0.9082675811432671f;
    p = p * t - 0.11689409723081715f;
    p = p * t - 0.2638827570970338f;
    p = p * t - 0.0017807545726249326f;
    p = p * t + 0.5642886009931466f;
    p = p * t - 2.377884242343864e-06f;
    return p;
}

// erf(z)/z for |z| ≤ 1 as a degree-6 polynomial in u = z² (least squares, error < 2e-7).
static inline float erf_over_z(float u) {
    float p = 8.006266462589332e-05f;
    p = p * u - 0.0008053592217714615f;
    p = p * u + 0.005192942539053312f;
    p = p * u - 0.026856062907705463f;
    p = p * u + 0.11283634508265876f;
    p = p * u - 0.3761262975908648f;
    p = p * u + 1.1283791662322527f;
    return p;
}

// Φ(x) and φ(x); in the tails Φ comes from erfc so it keeps relative accuracy.
static inline void gaussian(float x, float *cdf, float *density) {
    float z = x * 0.7071067811865475f;
    float u = z * z;
    float e = exp_approx(-u);
    float a = fabsf(z);
    float central = 0.5f + 0.5f * z * erf_over_z(u);
    float tail = 0.5f * e * erfc_scaled(a);
    float outer = z > 0 ? 1.0f - tail : tail;
    *cdf = a < 1.0f ? central : outer;
    *density = e * 0.3989422804014327f;
}

CLONES void mlm_exp(const float *x, float *y, long n) {
    for (long i = 0; i < n; i++) y[i] = exp_approx(x[i]);
}

CLONES void mlm_gaussian(const float *x, float *cdf, float *density, long n) {
    for (long i = 0; i < n; i++) gaussian(x[i], &cdf[i], &density[i]);
}

CLONES void mlm_gelu_forward(const float *restrict x, float *restrict y, long n) {
    for (long i = 0; i < n; i++) {
        float c, d;
        gaussian(x[i], &c, &d);
        y[i] = x[i] * c;
    }
}

// pre[j] += bias[j] (kept for the backward pass); returns GELU(pre[j]).
static inline float bias_gelu(float *restrict pre, const float *restrict bias, long j) {
    float x = pre[j] + bias[j], c, d;
    gaussian(x, &c, &d);
    pre[j] = x;
    return x * c;
}

CLONES void mlm_bias_gelu_forward(float *restrict pre, const float *restrict bias, float *restrict y, long rows, long n) {
    for (long r = 0; r < rows; r++)
        for (long j = 0; j < n; j++) y[r * n + j] = bias_gelu(pre + r * n, bias, j);
}

CLONES void mlm_bias_gelu_forward_bf16(float *restrict pre, const float *restrict bias, uint16_t *restrict y, long rows,
                                      long n) {
    for (long r = 0; r < rows; r++)
        for (long j = 0; j < n; j++) y[r * n + j] = bf16_round(bias_gelu(pre + r * n, bias, j));
}

CLONES void mlm_gelu_backward(const float *dy, const float *x, float *dx, long n) {
    SAME_INDEX_ALIASING
    for (long i = 0; i < n; i++) {
        float c, d;
        gaussian(x[i], &c, &d);
        dx[i] = dy[i] * (c + x[i] * d);
    }
}

CLONES void mlm_softmax_masked_row(float *restrict row, const uint8_t *restrict mask, long n) {
    REASSOC
    float maximum = -INFINITY;
    for (long j = 0; j < n; j++) maximum = fmaxf(maximum, mask[j] ? row[j] : -INFINITY);
    if (maximum == -INFINITY) {
        for (long j = 0; j < n; j++) row[j] = 1.0f / (float)n;
        return;
    }
    float total = 0;
    for (long j = 0; j < n; j++) {
        float e = mask[j] ? exp_approx(row[j] - maximum) : 0.0f;
        row[j] = e;
        total += e;
    }
    float inv = 1.0f / total;
    for (long j = 0; j < n; j++) row[j] *= inv;
}

CLONES void mlm_softmax_backward_row(const float *restrict p, float *restrict g, long n) {
    REASSOC
    float dot = 0;
    for (long j = 0; j < n; j++) dot += p[j] * g[j];
    for (long j = 0; j < n; j++) g[j] = p[j] * (g[j] - dot);
}

CLONES float mlm_row_max(const float *x, long n) {
    float maximum = -INFINITY;
    for (long j = 0; j < n; j++) maximum = fmaxf(maximum, x[j]);
    return maximum;
}

CLONES double mlm_row_sum_exp(const float *x, float shift, long n) {
    REASSOC
    double total = 0;
    for (long start = 0; start < n; start += 1024) {
        long end = start + 1024 < n ? start + 1024 : n;
        float chunk = 0;
        for (long j = start; j < end; j++) chunk += exp_approx(x[j] - shift);
        total += chunk;
    }
    return total;
}

CLONES void mlm_scaled_exp(const float *x, float lse, float scale, float *g, long n) {
    SAME_INDEX_ALIASING
    for (long j = 0; j < n; j++) g[j] = scale * exp_approx(x[j] - lse);
}

static inline uint64_t mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline float dropout_factor(long i, uint64_t key, uint32_t threshold, float scale) {
    uint64_t bits = mix64(key + (uint64_t)(i >> 2)) >> ((i & 3) << 4);
    return (uint32_t)(bits & 0xFFFF) >= threshold ? scale : 0.0f;
}

CLONES void mlm_dropout(const float *in, float *out, long n, long first, uint64_t key, uint32_t threshold,
                        float scale) {
    SAME_INDEX_ALIASING
    for (long j = 0; j < n; j++) out[j] = in[j] * dropout_factor(first + j, key, threshold, scale);
}

CLONES void mlm_dropout_to_bf16(const float *restrict in, uint16_t *restrict out, long n, long first, uint64_t key,
                                uint32_t threshold, float scale) {
    for (long j = 0; j < n; j++) out[j] = bf16_round(in[j] * dropout_factor(first + j, key, threshold, scale));
}

CLONES void mlm_layer_norm_rows(const float *x, const float *x_bias, const float *residual, float *sum, long rows,
                                long first_row, long n, uint64_t key, uint32_t threshold, float scale,
                                int dropout_active, const float *gamma, const float *beta, float eps, float *y,
                                float *mean, float *rstd) {
    REASSOC
    for (long r = 0; r < rows; r++) {
        const float *in = x + r * n;
        if (residual) {
            float *s = sum + r * n;
            const float *res = residual + r * n;
            long base = (first_row + r) * n;
            if (dropout_active && x_bias) {
                for (long j = 0; j < n; j++)
                    s[j] = res[j] + (in[j] + x_bias[j]) * dropout_factor(base + j, key, threshold, scale);
            } else if (dropout_active) {
                for (long j = 0; j < n; j++) s[j] = res[j] + in[j] * dropout_factor(base + j, key, threshold, scale);
            } else if (x_bias) {
                for (long j = 0; j < n; j++) s[j] = res[j] + (in[j] + x_bias[j]);
            } else {
                for (long j = 0; j < n; j++) s[j] = res[j] + in[j];
            }
            in = s;
        }
        float total = 0;
        for (long j = 0; j < n; j++) total += in[j];
        float mu = total / (float)n;
        float squares = 0;
        for (long j = 0; j < n; j++) {
            float d = in[j] - mu;
            squares += d * d;
        }
        float inv = 1.0f / sqrtf(squares / (float)n + eps);
        mean[r] = mu;
        rstd[r] = inv;
        float *out = y + r * n;
        for (long j = 0; j < n; j++) out[j] = (in[j] - mu) * inv * gamma[j] + beta[j];
    }
}

CLONES void mlm_layer_norm_backward_rows(const float *dy, const float *x, const float *gamma, const float *mean,
                                         const float *rstd, float *dx, int accumulate, long rows, long n) {
    REASSOC
    for (long r = 0; r < rows; r++) {
        const float *g = dy + r * n, *in = x + r * n;
        float *out = dx + r * n;
        float mu = mean[r], inv = rstd[r];
        float sum_g = 0, sum_gx = 0;
        for (long j = 0; j < n; j++) {
            float gg = g[j] * gamma[j];
            sum_g += gg;
            sum_gx += gg * (in[j] - mu) * inv;
        }
        float mean_g = sum_g / (float)n, mean_gx = sum_gx / (float)n;
        if (accumulate) {
            for (long j = 0; j < n; j++) out[j] += inv * (g[j] * gamma[j] - mean_g - (in[j] - mu) * inv * mean_gx);
        } else {
            for (long j = 0; j < n; j++) out[j] = inv * (g[j] * gamma[j] - mean_g - (in[j] - mu) * inv * mean_gx);
        }
    }
}

CLONES void mlm_layer_norm_parameter_gradients(const float *dy, const float *x, const float *mean, const float *rstd,
                                               float *dgamma, float *dbeta, long rows, long n, long j0, long j1) {
    for (long r = 0; r < rows; r++) {
        const float *g = dy + r * n, *in = x + r * n;
        float mu = mean[r], inv = rstd[r];
        for (long j = j0; j < j1; j++) {
            dgamma[j] += g[j] * (in[j] - mu) * inv;
            dbeta[j] += g[j];
        }
    }
}

CLONES void mlm_column_sums(const float *m, long rows, long n, float *sums, long j0, long j1) {
    for (long r = 0; r < rows; r++) {
        const float *row = m + r * n;
        for (long j = j0; j < j1; j++) sums[j] += row[j];
    }
}

// One AdamW step over n parameters, the operations and their order as torch.optim.AdamW's single-tensor
// path, each rounded on its own (no FMA contraction): bitwise the scalar reference on every clone.
CLONES void mlm_adamw_update(float *restrict p, const float *restrict g, float grad_scale, float *restrict m,
                             float *restrict v, long n, int decay, float decay_factor, float step_size,
                             float one_minus_beta1, float beta2, float one_minus_beta2, float bias_sqrt, float eps) {
#pragma clang fp contract(off)
    for (long i = 0; i < n; i++) {
        float param = decay ? p[i] * decay_factor : p[i];
        float grad = g[i] * grad_scale;  // clipping's factor, as torch's in-place g *= factor before the step
        float mi = m[i] + one_minus_beta1 * (grad - m[i]);
        float vi = v[i] * beta2 + one_minus_beta2 * (grad * grad);
        m[i] = mi;
        v[i] = vi;
        float denom = __builtin_elementwise_sqrt(vi) / bias_sqrt + eps;  // never sets errno, so it vectorises
        p[i] = param - step_size * (mi / denom);
    }
}

CLONES float mlm_sum_of_squares(const float *x, long n) {
    REASSOC
    float sum = 0;
    for (long i = 0; i < n; i++) sum += x[i] * x[i];
    return sum;
}

CLONES void mlm_float_to_bf16(const float *restrict x, uint16_t *restrict y, long n) {
    for (long i = 0; i < n; i++) y[i] = bf16_round(x[i]);
}

CLONES void mlm_bf16_to_float(const uint16_t *restrict x, float *restrict y, long n) {
    for (long i = 0; i < n; i++) {
        uint32_t bits = (uint32_t)x[i] << 16;
        memcpy(&y[i], &bits, 4);
    }
}
