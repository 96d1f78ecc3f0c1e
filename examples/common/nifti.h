/* nifti.h - read and write NIfTI-1 single files (.nii, and .nii.gz when built with zlib:
   -DHAVE_ZLIB -lz) for the example programs. Not part of the headers.

   Reading: any byte order; datatypes uint8, int8, int16, uint16, int32, uint32, int64, float32,
   float64, converted to double with scl_slope/scl_inter applied when slope is non-zero. The affine
   (voxel index -> world mm) comes from the sform when sform_code > 0, else from the qform
   quaternion when qform_code > 0, else from pixdim alone. Every size from the file is checked
   (dimensions, vox_offset, data length): a bad file gives an error, never a crash.
   Writing: float32 data, little-endian, sform and qform both set from the affine
   (the qform keeps its rotation part; a shear only the sform can hold).
   Functions return 0 on success, -1 with a message in err. */
#ifndef EXAMPLES_NIFTI_H
#define EXAMPLES_NIFTI_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" { /* C++ and nvcc builds of the examples link the C objects */
#endif

typedef struct nifti_image {
    int ndim;              /* 1..7 */
    size_t dim[7];         /* i, j, k, t, ... (i fastest in memory) */
    double pixdim[7];
    double affine[4][4];   /* voxel (i, j, k, 1) -> world (x, y, z, 1) */
    int qform_code, sform_code;
    int datatype;          /* as stored in the file */
    size_t count;          /* product of dim */
    double *data;          /* count values, i fastest; free with nifti_free */
} nifti_image;

int nifti_read(const char *path, nifti_image *out, char *err, size_t errcap);
int nifti_read_mem(const void *buf, size_t len, nifti_image *out, char *err, size_t errcap);
/* Writes img->data as float32 (count values, i fastest), dims and affine from img. */
int nifti_write(const char *path, const nifti_image *img, char *err, size_t errcap);
void nifti_free(nifti_image *img);
/* Identity-rotation affine with the given voxel size and origin (world of voxel 0,0,0). */
void nifti_affine_scaled(double affine[4][4], const double voxel_mm[3], const double origin[3]);
/* img's first volume resampled onto the grid (shape, affine), as nilearn's resample_to_img with
   interpolation 'nearest' (order 0) or 'linear' (order 1) and its defaults: each target voxel's
   position in img's voxels, inv(img.affine) @ affine, read by scipy.ndimage's rules (a position
   outside [0, n - 1] on any axis gives 0; nearest takes floor(x + 0.5); linear weighs the 8
   neighbours). NaN in img counts as 0 (nilearn extrapolates it). out: shape[0] * shape[1] *
   shape[2] doubles, i fastest. Returns 0, or -1 with err (a singular affine, order not 0 or 1). */
int nifti_resample(const nifti_image *img, const size_t shape[3], double affine[4][4], int order, double *out,
                   char *err, size_t errcap);

#ifdef __cplusplus
}
#endif

#endif
