/*
 * Our WebAssembly SIMD kernels for the tf.js wasm backend, in C.
 *
 * Built by build.ts (clang's wasm32 target, see there) into a module that imports the wasm
 * backend's own Memory, so a tensor's offset in that heap is a valid pointer here and kernels
 * read and write tensors in place. The TypeScript kernels in the folder above allocate the
 * outputs, pass the pointers, and are checked against tf.js's cpu backend in kernels.test.ts.
 *
 * Rules that keep this module safe inside someone else's heap:
 *  - no globals, no static data and no stack: only scalar locals (build.ts fails the build if
 *    the compiled code touches the stack pointer), so the module writes nothing but the outputs;
 *  - sizes are element counts (size_t: 32-bit unsigned on wasm32, so offsets above 2 GiB work);
 *  - no libc: loops are written out, and -fno-builtin keeps clang from calling memset/memcpy.
 *
 * On tf.js's threaded build, helper threads run the same module on the same heap
 * (../parallel.ts): a kernel's work is cut into calls on disjoint parts (a range of images,
 * rows or elements), which is why some functions take a range or a stride.
 *
 * v128_t holds 4 floats; wasm_v128_load/store accept any alignment.
 */
#include <stddef.h>
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(#name)))

/*
 * Gradient of 2x2 max pooling with stride 2 and no padding, NHWC, 4 channels at a time.
 * x is the pooling input (n rows of `row` floats per image row, `img` floats per image), dy the
 * pooled gradient [n, oh, ow, c]. Each window's first strict maximum in row-major order (a, b on
 * top, d, e below) gets dy, the other three 0 (tf.js's cpu rule). Writes every element the
 * windows cover; the caller zeroes an odd last row or column. c must be a multiple of 4.
 */
EXPORT(maxPool2x2Grad)
void maxPool2x2Grad(const float *x, const float *dy, float *dx, size_t n, size_t oh, size_t ow,
                    size_t c, size_t row, size_t img) {
  const float *g = dy;
  for (size_t ni = 0; ni < n; ni++) {
    for (size_t oy = 0; oy < oh; oy++) {
      size_t q = ni * img + 2 * oy * row; /* top-left corner of the first window of this row */
      for (size_t ox = 0; ox < ow; ox++, q += 2 * c) {
        for (size_t ch = 0; ch < c; ch += 4, g += 4) {
          const float *xa = x + q + ch;
          float *da = dx + q + ch;
          v128_t a = wasm_v128_load(xa);
          v128_t b = wasm_v128_load(xa + c);
          v128_t d = wasm_v128_load(xa + row);
          v128_t e = wasm_v128_load(xa + row + c);
          v128_t grad = wasm_v128_load(g);
          v128_t right_top = wasm_f32x4_gt(b, a);    /* b beats a (a wins ties) */
          v128_t right_bottom = wasm_f32x4_gt(e, d); /* e beats d */
          v128_t top_max = wasm_v128_bitselect(b, a, right_top);
          v128_t bottom_max = wasm_v128_bitselect(e, d, right_bottom);
          v128_t lower = wasm_f32x4_gt(bottom_max, top_max); /* the top row wins ties */
          /* wasm_v128_andnot(u, m) = u & ~m */
          wasm_v128_store(da, wasm_v128_andnot(wasm_v128_andnot(grad, right_top), lower));
          wasm_v128_store(da + c, wasm_v128_andnot(wasm_v128_and(grad, right_top), lower));
          wasm_v128_store(da + row, wasm_v128_and(wasm_v128_andnot(grad, right_bottom), lower));
          wasm_v128_store(da + row + c, wasm_v128_and(wasm_v128_and(grad, right_bottom), lower));
        }
      }
    }
  }
}

/*
 * Input gradient of a convolution, second half: adds every row of the patch-gradient matrix
 * dcol [n*oh*ow, fh*fw*c] (one row per output pixel, taps in (fy, fx, channel) order) into dx
 * [n, ih, iw, c], which the caller zeroes. Taps that fall in the padding are skipped. Unsigned
 * compares reject the negative coordinates of the top and left padding too. c a multiple of 4.
 */
EXPORT(col2im)
void col2im(const float *dcol, float *dx, size_t n, size_t oh, size_t ow, size_t fh, size_t fw,
            size_t ih, size_t iw, size_t sh, size_t sw, size_t top, size_t left, size_t c) {
  const float *src = dcol;
  for (size_t ni = 0; ni < n; ni++) {
    for (size_t oy = 0; oy < oh; oy++) {
      for (size_t ox = 0; ox < ow; ox++) {
        for (size_t fy = 0; fy < fh; fy++) {
          size_t iy = oy * sh - top + fy; /* wraps to a huge value above the image: skipped */
          for (size_t fx = 0; fx < fw; fx++, src += c) {
            size_t ix = ox * sw - left + fx;
            if (iy >= ih || ix >= iw) continue;
            float *dst = dx + ((ni * ih + iy) * iw + ix) * c;
            for (size_t ch = 0; ch < c; ch += 4) {
              wasm_v128_store(dst + ch,
                              wasm_f32x4_add(wasm_v128_load(dst + ch), wasm_v128_load(src + ch)));
            }
          }
        }
      }
    }
  }
}

/*
 * dw[k, o] (+)= sum over i < q of colT[k, i] * dy[i, o]: the filter gradient of a layer with few
 * taps (a first layer: k < 32), from its transposed patch matrix colT [k_dim, q]. 16 output
 * channels at a time in four registers, reading dy where it lies (XNNPACK would first copy and
 * reorder all of dy, which costs more than this product). Adds to dw when `accumulate` is set
 * (the caller's later batch chunks). co a multiple of 16.
 */
EXPORT(dwSmall)
void dwSmall(const float *colT, const float *dy, float *dw, size_t k_dim, size_t q, size_t co,
             int accumulate) {
  for (size_t k = 0; k < k_dim; k++) {
    const float *patch = colT + k * q;
    for (size_t o = 0; o < co; o += 16) {
      v128_t acc0 = wasm_f32x4_splat(0), acc1 = acc0, acc2 = acc0, acc3 = acc0;
      const float *g = dy + o;
      for (size_t i = 0; i < q; i++, g += co) {
        v128_t s = wasm_f32x4_splat(patch[i]);
        acc0 = wasm_f32x4_add(acc0, wasm_f32x4_mul(s, wasm_v128_load(g)));
        acc1 = wasm_f32x4_add(acc1, wasm_f32x4_mul(s, wasm_v128_load(g + 4)));
        acc2 = wasm_f32x4_add(acc2, wasm_f32x4_mul(s, wasm_v128_load(g + 8)));
        acc3 = wasm_f32x4_add(acc3, wasm_f32x4_mul(s, wasm_v128_load(g + 12)));
      }
      float *out = dw + k * co + o;
      if (accumulate) {
        acc0 = wasm_f32x4_add(wasm_v128_load(out), acc0);
        acc1 = wasm_f32x4_add(wasm_v128_load(out + 4), acc1);
        acc2 = wasm_f32x4_add(wasm_v128_load(out + 8), acc2);
        acc3 = wasm_f32x4_add(wasm_v128_load(out + 12), acc3);
      }
      wasm_v128_store(out, acc0);
      wasm_v128_store(out + 4, acc1);
      wasm_v128_store(out + 8, acc2);
      wasm_v128_store(out + 12, acc3);
    }
  }
}

/*
 * One Adam update of `count` floats (a multiple of 4), in the order of operations of the
 * element-wise tf.js ops it replaces, so both give the same floats:
 *   m' = m*beta1 + g*(1-beta1);  v' = v*beta2 + (g*g)*(1-beta2);
 *   p' = p - (m' / (sqrt(v') + eps_hat)) * step_size.
 * (No fused multiply-add in wasm SIMD, and clang does not reassociate without -ffast-math.)
 */
EXPORT(adam)
void adam(const float *p, const float *g, const float *m, const float *v, float *p_out,
          float *m_out, float *v_out, size_t count, float beta1, float one_minus_beta1, float beta2,
          float one_minus_beta2, float step_size, float eps_hat) {
  v128_t b1 = wasm_f32x4_splat(beta1), c1 = wasm_f32x4_splat(one_minus_beta1);
  v128_t b2 = wasm_f32x4_splat(beta2), c2 = wasm_f32x4_splat(one_minus_beta2);
  v128_t step = wasm_f32x4_splat(step_size), eps = wasm_f32x4_splat(eps_hat);
  for (size_t i = 0; i < count; i += 4) {
    v128_t gi = wasm_v128_load(g + i);
    v128_t mi = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(m + i), b1), wasm_f32x4_mul(gi, c1));
    v128_t vi = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(v + i), b2),
                               wasm_f32x4_mul(wasm_f32x4_mul(gi, gi), c2));
    v128_t denominator = wasm_f32x4_add(wasm_f32x4_sqrt(vi), eps);
    v128_t update = wasm_f32x4_mul(wasm_f32x4_div(mi, denominator), step);
    wasm_v128_store(m_out + i, mi);
    wasm_v128_store(v_out + i, vi);
    wasm_v128_store(p_out + i, wasm_f32x4_sub(wasm_v128_load(p + i), update));
  }
}

/*
 * Gradient of ReLU, dx = dy * step(x) with step(x) = 1 where x > 0, NaN where x is NaN, else 0:
 * tf.js's definition to the bit, in one pass instead of its three (Step, Cast, Multiply).
 */
EXPORT(reluGrad)
void reluGrad(const float *x, const float *dy, float *dx, size_t count) {
  size_t i = 0;
  for (; i + 4 <= count; i += 4) {
    v128_t xi = wasm_v128_load(x + i);
    v128_t ones = wasm_v128_and(wasm_f32x4_splat(1.0f), wasm_f32x4_gt(xi, wasm_f32x4_splat(0)));
    v128_t step = wasm_v128_or(ones, wasm_v128_and(xi, wasm_f32x4_ne(xi, xi)));
    wasm_v128_store(dx + i, wasm_f32x4_mul(wasm_v128_load(dy + i), step));
  }
  for (; i < count; i++) dx[i] = dy[i] * (x[i] > 0 ? 1.0f : x[i] != x[i] ? x[i] : 0.0f);
}

/*
 * dst = src transposed: src [rows, cols] -> dst [cols, rows], where dst's rows are `dst_stride`
 * floats apart (rows, for a whole matrix; more when threads each transpose a band of src rows).
 * Turns an NHWC tensor channel-major (rows = pixels, cols = channels) so that im2colT copies
 * along rows, and serves the transposed products of dense layers. 4x4 blocks through registers;
 * the edges one by one.
 */
EXPORT(transpose)
void transpose(const float *src, float *dst, size_t rows, size_t cols, size_t dst_stride) {
  size_t p = 0;
  for (; p + 4 <= rows; p += 4) {
    size_t ch = 0;
    for (; ch + 4 <= cols; ch += 4) {
      v128_t r0 = wasm_v128_load(src + (p + 0) * cols + ch);
      v128_t r1 = wasm_v128_load(src + (p + 1) * cols + ch);
      v128_t r2 = wasm_v128_load(src + (p + 2) * cols + ch);
      v128_t r3 = wasm_v128_load(src + (p + 3) * cols + ch);
      /* 4x4 transpose: t0 = r0[0] r1[0] r0[1] r1[1], ... */
      v128_t t0 = wasm_i32x4_shuffle(r0, r1, 0, 4, 1, 5);
      v128_t t1 = wasm_i32x4_shuffle(r2, r3, 0, 4, 1, 5);
      v128_t t2 = wasm_i32x4_shuffle(r0, r1, 2, 6, 3, 7);
      v128_t t3 = wasm_i32x4_shuffle(r2, r3, 2, 6, 3, 7);
      wasm_v128_store(dst + (ch + 0) * dst_stride + p, wasm_i64x2_shuffle(t0, t1, 0, 2));
      wasm_v128_store(dst + (ch + 1) * dst_stride + p, wasm_i64x2_shuffle(t0, t1, 1, 3));
      wasm_v128_store(dst + (ch + 2) * dst_stride + p, wasm_i64x2_shuffle(t2, t3, 0, 2));
      wasm_v128_store(dst + (ch + 3) * dst_stride + p, wasm_i64x2_shuffle(t2, t3, 1, 3));
    }
    for (; ch < cols; ch++) {
      for (size_t j = 0; j < 4; j++) dst[ch * dst_stride + p + j] = src[(p + j) * cols + ch];
    }
  }
  for (; p < rows; p++) {
    for (size_t ch = 0; ch < cols; ch++) dst[ch * dst_stride + p] = src[p * cols + ch];
  }
}

/*
 * The transposed patch matrix of a convolution: colT[(fy, fx, ci), (n, oy, ox)] = the input
 * pixel tap (fy, fx) of output pixel (n, oy, ox) reads, channel ci; 0 where it falls in the
 * padding. xT is the input channel-major, [c, n, ih, iw] (transpose). Each colT row is
 * then a run of copies along input rows: contiguous for stride 1. Writes rows [row_begin,
 * row_end) only, so that threads can share the work.
 */
EXPORT(im2colT)
void im2colT(const float *xT, float *colT, size_t n, size_t ih, size_t iw, size_t c, size_t oh,
             size_t ow, size_t fh, size_t fw, size_t sh, size_t sw, size_t top, size_t left,
             size_t row_begin, size_t row_end) {
  size_t q = n * oh * ow;
  for (size_t fy = 0; fy < fh; fy++) {
    for (size_t fx = 0; fx < fw; fx++) {
      /* Output columns whose input column is inside the image: [ox_lo, ox_hi). */
      size_t ox_lo = 0;
      while (ox_lo < ow && ox_lo * sw + fx < left) ox_lo++;
      size_t ox_hi = ox_lo;
      while (ox_hi < ow && ox_hi * sw + fx - left < iw) ox_hi++;
      for (size_t ci = 0; ci < c; ci++) {
        size_t row = (fy * fw + fx) * c + ci;
        if (row < row_begin || row >= row_end) continue; /* another thread's rows */
        float *out = colT + row * q;
        const float *plane = xT + ci * n * ih * iw;
        for (size_t ni = 0; ni < n; ni++) {
          for (size_t oy = 0; oy < oh; oy++, out += ow) {
            size_t iy = oy * sh - top + fy;
            if (iy >= ih) {
              for (size_t ox = 0; ox < ow; ox++) out[ox] = 0;
              continue;
            }
            /* The input pixel of output column ox_lo; later columns step by sw. */
            const float *in = plane + (ni * ih + iy) * iw + (ox_lo * sw + fx - left);
            size_t ox = 0;
            for (; ox < ox_lo; ox++) out[ox] = 0;
            if (sw == 1) {
              for (; ox + 4 <= ox_hi; ox += 4, in += 4) {
                wasm_v128_store(out + ox, wasm_v128_load(in));
              }
              for (; ox < ox_hi; ox++) out[ox] = *in++;
            } else {
              for (; ox < ox_hi; ox++, in += sw) out[ox] = *in;
            }
            for (; ox < ow; ox++) out[ox] = 0;
          }
        }
      }
    }
  }
}

/* dst[i] += src[i] for i < count: partial results of batch chunks added up. */
EXPORT(addInto)
void addInto(float *dst, const float *src, size_t count) {
  size_t i = 0;
  for (; i + 4 <= count; i += 4) {
    wasm_v128_store(dst + i, wasm_f32x4_add(wasm_v128_load(dst + i), wasm_v128_load(src + i)));
  }
  for (; i < count; i++) dst[i] += src[i];
}

/*
 * dst[c] = sum over r < rows of src[r, c] for c < cols, rows `stride` floats apart (a band of
 * columns per thread): a bias gradient, dy [N, H, W, C] summed over all but its channels. Rows
 * go in bands of 256, which stay in cache while each band's column blocks are summed in
 * registers; band sums are added into dst, which keeps the rounding error near that of a
 * pairwise sum.
 */
EXPORT(sumRows)
void sumRows(const float *src, float *dst, size_t rows, size_t cols, size_t stride) {
  for (size_t c = 0; c < cols; c++) dst[c] = 0;
  for (size_t r0 = 0; r0 < rows; r0 += 256) {
    size_t r1 = r0 + 256 < rows ? r0 + 256 : rows;
    size_t c = 0;
    for (; c + 4 <= cols; c += 4) {
      v128_t acc = wasm_f32x4_splat(0);
      for (size_t r = r0; r < r1; r++) {
        acc = wasm_f32x4_add(acc, wasm_v128_load(src + r * stride + c));
      }
      wasm_v128_store(dst + c, wasm_f32x4_add(wasm_v128_load(dst + c), acc));
    }
    for (; c < cols; c++) {
      float acc = 0;
      for (size_t r = r0; r < r1; r++) acc += src[r * stride + c];
      dst[c] += acc;
    }
  }
}
