// Internal helpers shared by the kernel files: the AVX2+FMA vector forms of exp, erf-based and tanh-based
// functions, and their scalar twins for the portable path. Not part of the module's public headers.
#pragma once
#include <math.h>
#include <stddef.h>

#if defined(__x86_64__) || defined(__i386__)
#define DK_X86 1
#include <immintrin.h>
#endif

#define DK_AVX2 __attribute__((target("avx2,fma,f16c")))

/// 1 when the AVX2+FMA path is to be used now (the processor has it and tests did not forbid it).
int dk_use_avx2(void);

// --- scalar reference forms (portable path) ---

static inline float dk_sigmoid_scalar(float x) { return 1.0f / (1.0f + expf(-x)); }

static inline float dk_gelu_erf_scalar(float x) { return x * 0.5f * (1.0f + erff(x * 0.70710678118654752f)); }

static inline float dk_gelu_tanh_scalar(float x) {
    const float k = 0.7978845608028654f; // sqrt(2/pi)
    float inner = k * (x + 0.044715f * x * x * x);
    return 0.5f * x * (1.0f + tanhf(inner));
}

#ifdef DK_X86
/// The core both exponentials share: x = n·ln 2 + r with n = round(x/ln 2) (Cephes' two-part ln 2), returning
/// e^r from Cephes' polynomial (about 1 ulp) and n through `n_out`.
DK_AVX2 static inline __m256 dk_exp8_core(__m256 x, __m256 *n_out) {
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    *n_out = n;
    return p;
}

/// e^x for 8 lanes (Cephes-style range reduction and degree-6 polynomial; about 1 ulp). Inputs below −88
/// give 0, above 88.7 give +inf, NaN stays NaN.
DK_AVX2 static inline __m256 dk_exp8(__m256 x) {
    const __m256 hi = _mm256_set1_ps(88.7228391f), lo = _mm256_set1_ps(-103.9720840f);
    const __m256 x0 = x;
    __m256 nanmask = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
    __m256 underflow = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
    __m256 overflow = _mm256_cmp_ps(x, hi, _CMP_GT_OQ);
    x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
    __m256 n, p = dk_exp8_core(x, &n);
    // 2^n split in two factors so that n down to −150 stays representable on the way.
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i n1 = _mm256_srai_epi32(ni, 1);
    __m256i n2 = _mm256_sub_epi32(ni, n1);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23));
    __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
    y = _mm256_blendv_ps(y, _mm256_setzero_ps(), underflow);
    y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), overflow);
    return _mm256_blendv_ps(y, _mm256_add_ps(x0, x0), nanmask);
}

/// A leaner e^x for the hot loops of softmax and fused normalisation epilogues: the same range reduction and
/// polynomial as dk_exp8 (about 1 ulp), but inputs below −86 give exactly 0 and inputs above 88 saturate at
/// e^88 (never +inf), so 2^n is applied by adding n to the exponent bits; NaN stays NaN.
DK_AVX2 static inline __m256 dk_exp8_fast(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-86.0f);
    __m256 keep = _mm256_cmp_ps(x, lo, _CMP_NLT_UQ);
    x = _mm256_min_ps(_mm256_set1_ps(88.0f), _mm256_max_ps(lo, x)); /* this operand order keeps NaN */
    __m256 n, p = dk_exp8_core(x, &n);
    __m256i e = _mm256_slli_epi32(_mm256_cvtps_epi32(n), 23);
    __m256 y = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), e));
    return _mm256_and_ps(y, keep);
}

/// e^r for |r| ≤ ln2/2 by a degree-5 polynomial fitted for relative error (≤ 1.8e-7 evaluated in float, about
/// 1.5 ulp): one multiply-add fewer than Cephes' form, for the sigmoid of SiLU, where the error is damped by 1 − σ.
#define DK_EXP_DEG5_C1 0.9999998211860657f
#define DK_EXP_DEG5_C2 0.49999096989631653f
#define DK_EXP_DEG5_C3 0.16667281091213226f
#define DK_EXP_DEG5_C4 0.04190408065915108f
#define DK_EXP_DEG5_C5 0.008313740603625774f

/// x·σ(x) = x / (1 + e^{−x}) without division, for the GroupNorm+SiLU epilogue (the pass is bound by its
/// arithmetic, so every operation counts): x is clamped to [−88, 86] for the exponential only (there σ is 0 or 1
/// in float, so the result is unchanged, and e^{−x} stays a normal float); n = round(−x/ln 2) and the reduced
/// argument r = −x − n·ln 2 in one fused step (|error| ≤ |n|·2e-9, so e^{−x} is within 2.5e-7 relative), e^r by
/// the degree-5 form, 2^n by adding n to the exponent bits, then the reciprocal of 1 + e^{−x} from an estimate
/// refined by one Newton step. About 3e-7 relative in all; ±inf give ±inf·(0 or 1) as the formula does, NaN
/// stays NaN.
DK_AVX2 static inline __m256 dk_silu8_fast(__m256 x) {
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 xc = _mm256_max_ps(_mm256_set1_ps(-88.0f), _mm256_min_ps(_mm256_set1_ps(86.0f), x)); /* keeps NaN */
    __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(-1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmsub_ps(n, _mm256_set1_ps(0.693147182f), xc); /* −x − n·ln 2 */
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(DK_EXP_DEG5_C5), r, _mm256_set1_ps(DK_EXP_DEG5_C4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(DK_EXP_DEG5_C3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(DK_EXP_DEG5_C2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(DK_EXP_DEG5_C1));
    p = _mm256_fmadd_ps(p, r, one);
    __m256i e = _mm256_slli_epi32(_mm256_cvtps_epi32(n), 23);
    __m256 d = _mm256_add_ps(one, _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), e)));
    __m256 rc = _mm256_rcp_ps(d);
    rc = _mm256_fmadd_ps(rc, _mm256_fnmadd_ps(d, rc, one), rc);
    return _mm256_mul_ps(x, rc);
}

DK_AVX2 static inline __m256 dk_sigmoid8(__m256 x) {
    __m256 e = dk_exp8(_mm256_sub_ps(_mm256_setzero_ps(), x));
    return _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

/// 1 + erf(z) without cancellation for negative z: Abramowitz–Stegun 7.1.26 (|error of erf| ≤ 1.5e-7),
/// evaluated as erfc(|z|) = t·P(t)·e^{−z²} and reflected.
DK_AVX2 static inline __m256 dk_one_plus_erf8(__m256 z) {
    const __m256 signmask = _mm256_set1_ps(-0.0f);
    __m256 az = _mm256_andnot_ps(signmask, z);
    __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(_mm256_set1_ps(0.3275911f), az, _mm256_set1_ps(1.0f)));
    __m256 p = _mm256_set1_ps(1.061405429f);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
    p = _mm256_mul_ps(p, t);
    __m256 erfc = _mm256_mul_ps(p, dk_exp8(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(az, az))));
    __m256 neg = _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_LT_OQ);
    // z ≥ 0: 2 − erfc(z); z < 0: erfc(−z).
    return _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(2.0f), erfc), erfc, neg);
}

DK_AVX2 static inline __m256 dk_gelu_erf8(__m256 x) {
    __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f));
    return _mm256_mul_ps(_mm256_mul_ps(x, _mm256_set1_ps(0.5f)), dk_one_plus_erf8(z));
}

/// 0.5·x·(1 + tanh(u)) = x·sigmoid(2u).
DK_AVX2 static inline __m256 dk_gelu_tanh8(__m256 x) {
    __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
    __m256 u = _mm256_mul_ps(_mm256_set1_ps(0.7978845608028654f), _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), x3, x));
    return _mm256_mul_ps(x, dk_sigmoid8(_mm256_add_ps(u, u)));
}

/// Horizontal sum and maximum of 8 lanes.
DK_AVX2 static inline float dk_hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

DK_AVX2 static inline float dk_hmax8(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// Abramowitz–Stegun 7.1.26 (erfc(z) ≈ t·P(t)·e^{−z²}, t = 1/(1 + p·z), |error of erf| ≤ 1.5e-7, the form torch's
/// vectorised GELU uses), with P's coefficients halved so that the polynomial gives ½·erfc directly.
#define DK_AS_P 0.3275911f
#define DK_AS_HALF_A1 0.127414796f
#define DK_AS_HALF_A2 (-0.142248368f)
#define DK_AS_HALF_A3 0.7107068705f
#define DK_AS_HALF_A4 (-0.7265760135f)
#define DK_AS_HALF_A5 0.5307027145f

/// erf-based GELU, x·½·(1 + erf(x/√2)) = x·(1 − ½·erfc(|z|)) for z = x/√2 ≥ 0 and x·½·erfc(|z|) below, without
/// division: t from a reciprocal estimate refined by one Newton step, e^{−z²} from the degree-5 exponential with
/// a one-step reduction (|z| is clamped at 10, where erfc is already below float's reach, and e^{−z²} is exactly 0
/// past z² = 87, as the general exponential gives). About 4e-7 relative on ½·erfc, below the formula's own error.
/// +inf gives +inf, −inf gives NaN (−inf·0, as the formula does), NaN stays NaN.
DK_AVX2 static inline __m256 dk_gelu_erf8_fast(__m256 x) {
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 z = _mm256_mul_ps(x, _mm256_set1_ps(0.70710678118654752f));
    __m256 az = _mm256_min_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), z), _mm256_set1_ps(10.0f));
    __m256 d = _mm256_fmadd_ps(_mm256_set1_ps(DK_AS_P), az, one);
    __m256 t = _mm256_rcp_ps(d);
    t = _mm256_fmadd_ps(t, _mm256_fnmadd_ps(d, t, one), t);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(DK_AS_HALF_A5), t, _mm256_set1_ps(DK_AS_HALF_A4));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(DK_AS_HALF_A3));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(DK_AS_HALF_A2));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(DK_AS_HALF_A1));
    p = _mm256_mul_ps(p, t);
    /* e^{−u} for u = z², 0 past 87 (the exponent step below stays within normal floats up to there) */
    __m256 u = _mm256_mul_ps(az, az);
    __m256 keep = _mm256_cmp_ps(u, _mm256_set1_ps(87.0f), _CMP_LT_OQ);
    u = _mm256_min_ps(u, _mm256_set1_ps(87.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(u, _mm256_set1_ps(-1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmsub_ps(n, _mm256_set1_ps(0.693147182f), u); /* −u − n·ln 2 */
    __m256 q = _mm256_fmadd_ps(_mm256_set1_ps(DK_EXP_DEG5_C5), r, _mm256_set1_ps(DK_EXP_DEG5_C4));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(DK_EXP_DEG5_C3));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(DK_EXP_DEG5_C2));
    q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(DK_EXP_DEG5_C1));
    q = _mm256_fmadd_ps(q, r, one);
    __m256i e = _mm256_slli_epi32(_mm256_cvtps_epi32(n), 23);
    __m256 ez = _mm256_and_ps(_mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(q), e)), keep);
    __m256 h = _mm256_mul_ps(p, ez); /* ½·erfc(|z|) */
    __m256 neg = _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_LT_OQ);
    return _mm256_mul_ps(x, _mm256_blendv_ps(_mm256_sub_ps(one, h), h, neg));
}

/// A mask selecting the first `n` (0…8) lanes, for loads and stores of a row's tail.
DK_AVX2 static inline __m256i dk_tail_mask(size_t n) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), idx);
}

// --- AVX-512 forms (16 lanes), for processors that have AVX-512F ---

#ifndef DK_AVX512
#define DK_AVX512 __attribute__((target("avx512f,avx2,fma,f16c")))
#endif

/// dk_exp8_fast for 16 lanes: the same reduction and polynomial (about 1 ulp), 2^n applied with scalef; inputs
/// below −86 give exactly 0, inputs above 88 saturate at e^88, NaN stays NaN.
DK_AVX512 static inline __m512 dk_exp16_fast(__m512 x) {
    const __m512 lo = _mm512_set1_ps(-86.0f);
    __mmask16 keep = _mm512_cmp_ps_mask(x, lo, _CMP_NLT_UQ);
    x = _mm512_min_ps(_mm512_set1_ps(88.0f), _mm512_max_ps(lo, x)); /* this operand order keeps NaN */
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_maskz_mov_ps(keep, _mm512_scalef_ps(p, n));
}

/// 1/d from the 14-bit estimate and one Newton step (about 1 ulp for normal d).
DK_AVX512 static inline __m512 dk_rcp16(__m512 d) {
    __m512 r = _mm512_rcp14_ps(d);
    return _mm512_fmadd_ps(r, _mm512_fnmadd_ps(d, r, _mm512_set1_ps(1.0f)), r);
}

/// x·σ(x), dk_silu8_fast for 16 lanes (2^n applied with scalef).
DK_AVX512 static inline __m512 dk_silu16_fast(__m512 x) {
    __m512 xc = _mm512_max_ps(_mm512_set1_ps(-88.0f), _mm512_min_ps(_mm512_set1_ps(86.0f), x)); /* keeps NaN */
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(-1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmsub_ps(n, _mm512_set1_ps(0.693147182f), xc); /* −x − n·ln 2 */
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(DK_EXP_DEG5_C5), r, _mm512_set1_ps(DK_EXP_DEG5_C4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(DK_EXP_DEG5_C3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(DK_EXP_DEG5_C2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(DK_EXP_DEG5_C1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_mul_ps(x, dk_rcp16(_mm512_add_ps(_mm512_set1_ps(1.0f), _mm512_scalef_ps(p, n))));
}

/// dk_gelu_erf8_fast for 16 lanes: 2^n applied with scalef, which flushes to 0 on its own, so |z| is clamped at
/// 14 instead (z² ≤ 196, where e^{−z²} scales to exactly 0).
DK_AVX512 static inline __m512 dk_gelu_erf16_fast(__m512 x) {
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 z = _mm512_mul_ps(x, _mm512_set1_ps(0.70710678118654752f));
    __m512 az = _mm512_min_ps(_mm512_abs_ps(z), _mm512_set1_ps(14.0f));
    __m512 t = dk_rcp16(_mm512_fmadd_ps(_mm512_set1_ps(DK_AS_P), az, one));
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(DK_AS_HALF_A5), t, _mm512_set1_ps(DK_AS_HALF_A4));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(DK_AS_HALF_A3));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(DK_AS_HALF_A2));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(DK_AS_HALF_A1));
    p = _mm512_mul_ps(p, t);
    __m512 u = _mm512_mul_ps(az, az);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(u, _mm512_set1_ps(-1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmsub_ps(n, _mm512_set1_ps(0.693147182f), u); /* −u − n·ln 2 */
    __m512 q = _mm512_fmadd_ps(_mm512_set1_ps(DK_EXP_DEG5_C5), r, _mm512_set1_ps(DK_EXP_DEG5_C4));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(DK_EXP_DEG5_C3));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(DK_EXP_DEG5_C2));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(DK_EXP_DEG5_C1));
    q = _mm512_fmadd_ps(q, r, one);
    __m512 h = _mm512_mul_ps(p, _mm512_scalef_ps(q, n)); /* ½·erfc(|z|) */
    __mmask16 neg = _mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_LT_OQ);
    return _mm512_mul_ps(x, _mm512_mask_mov_ps(_mm512_sub_ps(one, h), neg, h));
}

/// A mask selecting the first `n` (0…16) lanes.
static inline __mmask16 dk_tail_mask16(size_t n) { return (__mmask16)(n >= 16 ? 0xFFFFu : (1u << n) - 1u); }
#endif
