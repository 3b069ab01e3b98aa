/* jpeg-trace.h — was this image saved as a JPEG?
 *
 * JPEG stores each 8×8 block's brightness as DCT coefficients rounded to
 * multiples of a step per frequency, so the decoded image's coefficients
 * still cluster on those multiples (within the decoder's rounding, about
 * 0.4 on the 0–255 scale); a clean photo's, or a JPEG's after resizing,
 * spread evenly. For every placement of the 8×8 grid and the first ten
 * frequencies, the clustering on each candidate step q is measured as the
 * mean of cos(2π c / q) over the coefficients c farther than q / 2 from
 * zero: near 1 for JPEG steps, within ±0.2 for clean images. Measured on
 * Set14's low-resolution images: clean 0.08–0.20, JPEG quality 95
 * 0.53–0.68, 90 0.82–0.91, 75 0.97, 30 1.00; 2× smaller after saving
 * 0.13–0.24. Blocks with clipped pixels are left out. The upscaler for
 * JPEG photos is chosen by it (job.h).
 *
 * How strong the compression was shows in the step of the first
 * horizontal frequency at that grid: the largest step on which its
 * coefficients still cluster. libjpeg's steps for it are 2, 6, 9, 11 and
 * 18 at qualities 90, 75, 60, 50 and 30; the denoiser of strongly
 * compressed JPEGs is chosen by it. */
#ifndef AENET_JPEG_TRACE_H
#define AENET_JPEG_TRACE_H

#include <glib.h>

G_BEGIN_DECLS

/* Above this strength an image is taken for a decoded JPEG. Quality-95
 * JPEGs stay below it: their artefacts are too faint to matter, and the
 * clean upscaler enlarges them 0.17 dB better than the JPEG one. */
#define AENET_JPEG_TRACE_THRESHOLD 0.75
/* The central square aenet_jpeg_trace looks at: 64 blocks a side at any
 * grid offset. */
#define AENET_JPEG_TRACE_EDGE 519
#define AENET_JPEG_TRACE_PIXELS (AENET_JPEG_TRACE_EDGE * AENET_JPEG_TRACE_EDGE)

/* The largest step aenet_jpeg_trace tells. */
#define AENET_JPEG_TRACE_STEP_MAX 64

/* image is planar (channels, height, width), values nominally in [0, 1],
 * 1 (gray) or 3 (R'G'B') channels. Returns the strongest clustering found,
 * 0 to 1 (0 when the image has too few blocks to tell), or -2 with error
 * set (AENET_ERROR_INVALID) on wrong arguments. step, when not NULL, gets
 * the first horizontal frequency's step (above), 0 when it cannot be told
 * (no JPEG, too few coefficients, or a step above
 * AENET_JPEG_TRACE_STEP_MAX). Reads at most a central crop of
 * AENET_JPEG_TRACE_PIXELS. */
double aenet_jpeg_trace(const float *image, int channels, int height, int width, int *step,
                        GError **error);

G_END_DECLS

#endif
