/* winograd.h — 3×3 stride-1 convolutions by Winograd's F(4×4, 3×3).
 *
 * The same convolution as aenet_conv2d_forward with k = 3, stride 1 and
 * zero padding 1 (see ops.h for the layout rules: CHW tensors, weights
 * (cout, cin, 3, 3), outputs first, no allocation), computed on 4×4 output
 * tiles from 6×6 input tiles: 36 multiplications per tile and channel pair
 * instead of 144. Forward only: the results differ from the direct sum by
 * rounding (about 1e-6 of the values' size); backward passes use im2col.
 *
 * Weights are transformed once, for a given set of parameters, into U
 * (36, cout, cin); the forward pass then runs, band of tiles after band,
 * the input transform, 36 matrix products U[ξ] (cout, cin) × V[ξ] (cin,
 * tiles) through OpenBLAS sgemm, and the output transform with the bias
 * and an optional ReLU, while the band is in cache. */
#ifndef AENET_WINOGRAD_H
#define AENET_WINOGRAD_H

#include <stddef.h>

/* Floats of the transformed weights, (36, cout, cin). */
size_t aenet_winograd_weights_size(int cin, int cout);
/* u (36, cout, cin) from weight (cout, cin, 3, 3). */
void aenet_winograd_weights(float *u, const float *weight, int cin, int cout);

/* Floats of scratch for an input (cin, h, w). */
size_t aenet_winograd_scratch_size(int cin, int h, int w, int cout);
/* out (cout, h, w) = conv3x3 (inp (cin, h, w)) + bias, then max (0, ·)
 * when relu is non-zero; bias may be NULL; out must not alias inp. */
void aenet_winograd_forward(float *out, const float *inp, const float *u, const float *bias,
                            float *scratch, int cin, int h, int w, int cout, int relu);

#endif
