/* npy.h - read and write NumPy .npy files (format 1.0, 2.0, 3.0) for the example programs.
   Not part of the headers: the examples use it to take and give the arrays users have.

   dtypes: <f4 <f8 <i4 <i8 |u1 |b1 (<u1 is read as |u1).
   Big-endian and other dtypes are refused with a message naming the dtype. Arrays stored in
   Fortran order are transposed to C order on reading (the returned array is always C order).
   Every size read from a file is checked: truncated data, absurd shapes whose product overflows,
   and headers that are not a .npy dictionary give an error, never a crash.
   Functions return 0 on success, -1 on error with a message in err (may be NULL). */
#ifndef EXAMPLES_NPY_H
#define EXAMPLES_NPY_H

#include <stddef.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NPY_MAX_DIMS 16

typedef enum npy_dtype { NPY_F4, NPY_F8, NPY_I4, NPY_I8, NPY_U1, NPY_B1, NPY_U2 } npy_dtype;

typedef struct npy_array {
    npy_dtype dtype;
    int ndim;                   /* 0 for a scalar */
    size_t shape[NPY_MAX_DIMS];
    size_t count;               /* product of shape */
    size_t itemsize;
    void *data;                 /* count * itemsize bytes, C order; free with npy_free */
    void *map_base;             /* npy_map_read: the file's read-only mapping (else NULL) */
    size_t map_len;
} npy_array;

int npy_read(const char *path, npy_array *out, char *err, size_t errcap);
int npy_read_mem(const void *buf, size_t len, npy_array *out, char *err, size_t errcap);
/* Like npy_read, but where it can (C order, not bool, mmap available) data points into a
   read-only mapping of the file instead of a copy: a cube larger than the memory one wants to
   spend stays in the page cache. Treat data as const; npy_free unmaps. */
int npy_map_read(const char *path, npy_array *out, char *err, size_t errcap);
/* Writes format 1.0 (2.0 when the header needs it). */
int npy_write(const char *path, npy_dtype dtype, int ndim, const size_t *shape, const void *data,
              char *err, size_t errcap);
void npy_free(npy_array *a);

/* A 2-D array written row block by row block, for outputs whose length is known only at the end
   (e.g. one row per peak): the header is rewritten with the row count by npy_stream_close. */
typedef struct npy_stream {
    FILE *f;
    npy_dtype dtype;
    size_t cols, rows;
    size_t tail[2];
    int n_tail; /* a row's shape: (cols) or tail[0..n_tail) */
} npy_stream;

int npy_stream_open(npy_stream *s, const char *path, npy_dtype dtype, size_t cols, char *err, size_t errcap);
/* The same, each row an array of shape tail[0..n_tail) (n_tail 1 or 2): a (rows, a, b) array */
int npy_stream_open_shape(npy_stream *s, const char *path, npy_dtype dtype, int n_tail, const size_t *tail, char *err,
                          size_t errcap);
int npy_stream_rows(npy_stream *s, const void *rows, size_t n_rows, char *err, size_t errcap);
int npy_stream_close(npy_stream *s, char *err, size_t errcap);

/* An output array written in place: npy_map_create makes the file at its full size and maps its
   data (where the system has mmap; elsewhere an ordinary zeroed buffer), so a program can fill a
   result larger than it wants to keep in memory: the pages belong to the file and the system can
   write them out. npy_map_close finishes the file. */
typedef struct npy_map {
    void *data;       /* count * itemsize bytes, zeroed */
    size_t bytes;
    FILE *f;
    void *base;       /* the mapping, or NULL */
    size_t header;
} npy_map;

int npy_map_create(npy_map *m, const char *path, npy_dtype dtype, int ndim, const size_t *shape, char *err, size_t errcap);
int npy_map_close(npy_map *m, char *err, size_t errcap);

size_t npy_itemsize(npy_dtype dtype);
const char *npy_dtype_name(npy_dtype dtype);
/* Converts any dtype to double (dst has a->count elements). */
void npy_to_f64(const npy_array *a, double *dst);
/* Reads a float32/float64 file as doubles: fails (with a message) for other dtypes. */
int npy_read_f64(const char *path, npy_array *out, double **values, char *err, size_t errcap);

#ifdef __cplusplus
}
#endif

#endif
