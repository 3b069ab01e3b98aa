/* resize.h — bicubic resizing compatible with MATLAB's imresize(…,'bicubic').
 *
 * Cubic kernel with a = -0.5; when shrinking, the kernel is widened by the
 * inverse scale (antialiasing), as MATLAB does; taps beyond an edge repeat
 * the edge pixel (MATLAB's published low-resolution sets show clamping).
 * Separable, through an intermediate buffer, the axis with the smaller
 * scale first (vertical first when equal), as MATLAB orders them. Tensors
 * are planar (c, h, w), row-major; the scale of each axis is out/in. */
#ifndef AENET_RESIZE_H
#define AENET_RESIZE_H

#include <stddef.h>

/* Scratch needed by aenet_resize_bicubic, in floats. */
size_t aenet_resize_scratch_size(int c, int h, int w, int out_h, int out_w);
/* out is (c, out_h, out_w), inp is (c, h, w). Never allocates. */
void aenet_resize_bicubic(float *out, const float *inp, float *scratch, int c, int h, int w,
                          int out_h, int out_w);

#endif
