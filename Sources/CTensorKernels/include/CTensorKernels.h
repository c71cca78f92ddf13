// Elementwise hot loops of TensorKernels, in C so that clang can build AVX-512 / AVX2 clones of each
// (picked at load time by the CPU) while the Swift code stays portable x86-64.
#ifndef CTENSORKERNELS_H
#define CTENSORKERNELS_H

#include <stdint.h>

/// e^x for each element (relative error < 3e-7 on [-87, 88]; inputs clamped to that range).
void mlm_exp(const float *x, float *y, long n);
/// Standard normal CDF Φ(x) and density φ(x) for each element.
void mlm_gaussian(const float *x, float *cdf, float *density, long n);

/// y = x · Φ(x) (exact-erf GELU).
void mlm_gelu_forward(const float *x, float *y, long n);
/// A dense layer's bias and GELU in one pass over `rows` rows of width n: pre += bias, y = GELU(pre).
void mlm_bias_gelu_forward(float *pre, const float *bias, float *y, long rows, long n);
/// The same, y rounded to bf16 (as mlm_float_to_bf16): the next GEMM's operand, with no float copy.
void mlm_bias_gelu_forward_bf16(float *pre, const float *bias, uint16_t *y, long rows, long n);
/// dx = dy · (Φ(x) + x·φ(x)); dx may alias dy.
void mlm_gelu_backward(const float *dy, const float *x, float *dx, long n);

/// In-place softmax of one row; mask[j] == 0 marks a padding key (probability 0). A fully masked row
/// becomes uniform, as transformers' additive most-negative mask does.
void mlm_softmax_masked_row(float *row, const uint8_t *mask, long n);
/// In place: g ← p ⊙ (g − Σ p·g).
void mlm_softmax_backward_row(const float *p, float *g, long n);

/// Maximum of a row and Σ e^(x − max) accumulated in float chunks and double.
float mlm_row_max(const float *x, long n);
double mlm_row_sum_exp(const float *x, float shift, long n);
/// g = scale · e^(x − lse); g may alias x.
void mlm_scaled_exp(const float *x, float lse, float scale, float *g, long n);

/// Counter-based dropout: element i keeps with probability 1 − threshold/65536, where the 16-bit
/// uniform is lane (i mod 4) of splitmix64(key + i/4). out[j] = in[j] · (keep ? scale : 0) for
/// i = first + j. `in` may alias `out`.
void mlm_dropout(const float *in, float *out, long n, long first, uint64_t key, uint32_t threshold, float scale);
/// The same dropout, its result rounded to bf16 (as mlm_float_to_bf16) instead of stored in float.
void mlm_dropout_to_bf16(const float *in, uint16_t *out, long n, long first, uint64_t key, uint32_t threshold,
                         float scale);

/// LayerNorm of `rows` rows of width n; when residual != NULL the normalised input is
/// sum = residual + dropout(x + x_bias) (stored to `sum`; x_bias may be NULL), with dropout element
/// index r·n + j.
void mlm_layer_norm_rows(const float *x, const float *x_bias, const float *residual, float *sum, long rows,
                         long first_row, long n, uint64_t key, uint32_t threshold, float scale, int dropout_active,
                         const float *gamma, const float *beta, float eps, float *y, float *mean, float *rstd);
/// dx = rstd · (dy·γ − mean(dy·γ) − x̂·mean(dy·γ·x̂)) for `rows` rows; adds into dx when accumulate != 0.
void mlm_layer_norm_backward_rows(const float *dy, const float *x, const float *gamma, const float *mean,
                                  const float *rstd, float *dx, int accumulate, long rows, long n);
/// dγ[j] += Σ_r dy·x̂ and dβ[j] += Σ_r dy over columns [j0, j1).
void mlm_layer_norm_parameter_gradients(const float *dy, const float *x, const float *mean, const float *rstd,
                                        float *dgamma, float *dbeta, long rows, long n, long j0, long j1);

/// sums[j] += Σ_r m[r·n + j] for columns [j0, j1).
void mlm_column_sums(const float *m, long rows, long n, float *sums, long j0, long j1);

/// One AdamW step (torch's single-tensor order, no FMA contraction) of n parameters on the gradient
/// g·grad_scale (clipping's factor; 1 leaves g exact): `decay` multiplies p by decay_factor first; m, v are the
/// moments; denom = sqrt(v)/bias_sqrt + eps; p -= step_size·m/denom.
void mlm_adamw_update(float *p, const float *g, float grad_scale, float *m, float *v, long n, int decay,
                      float decay_factor, float step_size, float one_minus_beta1, float beta2, float one_minus_beta2,
                      float bias_sqrt, float eps);
/// Σ x[i]² in float, in a fixed (vectorised) order.
float mlm_sum_of_squares(const float *x, long n);

/// bf16 with round-to-nearest-even (NaN stays NaN) and its exact widening back to float.
void mlm_float_to_bf16(const float *x, uint16_t *y, long n);
void mlm_bf16_to_float(const uint16_t *x, float *y, long n);

/// The thread pool's bounded wait: an atomic (release) store, and a spin of at most `rounds` rounds until
/// *word == value (`until_equal`) or != value; 1 when that happened, 0 when the rounds ran out.
void mlm_atomic_store(long *word, long value);
int mlm_spin_wait(const long *word, long value, int until_equal, long rounds);

/// oneDNN 2.x (`libdnnl.so.2`), loaded at run time: 1 on success, else 0 with the reason in `error`.
int mlm_dnnl_load(const char *library, char *error, long error_length);
void mlm_dnnl_version(int *major, int *minor, int *patch);
/// oneDNN's (OpenMP) thread count for the calls that follow from this thread.
void mlm_dnnl_set_threads(int threads);
/// A matmul primitive for one shape: C[m,n] (+)= alpha · op(A)[m,k] · op(B)[k,n], row-major with leading
/// dimensions, A and B bf16 (`bf16_inputs`) or f32, C f32; `accumulate` adds into C. `batch`, when not
/// NULL, makes it outer × inner such products: {outer, inner, A's outer and inner strides, B's, C's}, in
/// elements. NULL with the oneDNN status on failure (3 = unimplemented: no kernel for this CPU).
struct mlm_dnnl_matmul;
struct mlm_dnnl_matmul *mlm_dnnl_matmul_create(int bf16_inputs, int transpose_a, int transpose_b, long m, long n,
                                               long k, long lda, long ldb, long ldc, int accumulate, float alpha,
                                               const long *batch, int *status);
void mlm_dnnl_matmul_destroy(struct mlm_dnnl_matmul *matmul);
/// oneDNN's name for the kernel it picked, e.g. "brg:avx512_core_bf16".
const char *mlm_dnnl_matmul_implementation(const struct mlm_dnnl_matmul *matmul);
/// Runs the primitive on these operands; returns the oneDNN status (0 = success).
int mlm_dnnl_matmul_run(struct mlm_dnnl_matmul *matmul, const void *a, const void *b, float *c);

#endif
