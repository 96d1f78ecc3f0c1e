/* _membound: the CPython extension behind the membound package. It compiles the four headers'
   implementations from the repository's root (setup.py puts it on the include path) and exposes
   them to numpy arrays: no copy where an array's layout allows, the GIL released while the C code
   runs, a header's error raised as an exception carrying its message, a progress callable called
   (with the GIL) from the C progress callbacks. The Python-facing API (types, docstrings, the
   tensorpac-compatible classes) is in __init__.py; this file keeps to the C side. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#define TENSORPOOL_IMPLEMENTATION
#define STAT_STREAM_IMPLEMENTATION
#define PROM2D_IMPLEMENTATION
#define PACGPU_IMPLEMENTATION
#include "stat_stream.h"
#include "prom2d.h"
#include "pacgpu.h"

#include <math.h>
#include <string.h>
#include <time.h>

/* Seconds on the monotonic clock: what a call spent in C, for the binding's overhead (bench) */
static double mb_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- errors: one exception class per result code, all under membound.Error --------------------- */

static PyObject *mb_error, *mb_budget_error, *mb_arg_error, *mb_nomem_error, *mb_io_error, *mb_format_error,
    *mb_cancelled_error, *mb_device_error, *mb_unsupported_error;

static PyObject *mb_class_of(tp_result code)
{
    switch (code) {
    case TP_ERR_ARG: return mb_arg_error;
    case TP_ERR_OVERFLOW: return mb_arg_error;
    case TP_ERR_NOMEM: return mb_nomem_error;
    case TP_ERR_BUDGET: return mb_budget_error;
    case TP_ERR_IO: return mb_io_error;
    case TP_ERR_FORMAT: return mb_format_error;
    case TP_ERR_CANCELLED: return mb_cancelled_error;
    case TP_ERR_DEVICE: return mb_device_error;
    case TP_ERR_UNSUPPORTED: return mb_unsupported_error;
    default: return mb_error;
    }
}

/* Raises err's class with its message; NULL */
static PyObject *mb_raise(const tp_error *err)
{
    PyErr_SetString(mb_class_of(err->code), err->message[0] ? err->message : tp_result_string(err->code));
    return NULL;
}

/* ---- progress: a Python callable called from C (with the GIL taken for the call) ---------------- */

typedef struct mb_progress {
    PyObject *fn;           /* callable(done, total) -> truthy to stop, or None */
    int failed;             /* it raised: the exception is kept for the calling thread */
    PyObject *et, *ev, *tb; /* that exception (it may have been raised on a worker thread) */
} mb_progress;

/* Puts back the progress callable's exception in the calling thread; 1 if there was one */
static int mb_progress_restore(mb_progress *p)
{
    if (!p->failed) return 0;
    PyErr_Restore(p->et, p->ev, p->tb);
    p->et = p->ev = p->tb = NULL;
    return 1;
}

static int mb_progress_call(void *user, uint64_t done, uint64_t total)
{
    mb_progress *p = (mb_progress *)user;
    PyGILState_STATE g;
    PyObject *r;
    int stop;
    if (!p->fn || p->failed) return p->failed;
    g = PyGILState_Ensure();
    r = PyObject_CallFunction(p->fn, "KK", (unsigned long long)done, (unsigned long long)total);
    if (!r) {
        p->failed = 1;
        stop = 1;
        PyErr_Fetch(&p->et, &p->ev, &p->tb);
    } else {
        stop = PyObject_IsTrue(r) > 0;
        Py_DECREF(r);
    }
    PyGILState_Release(g);
    return stop;
}

/* ---- Pool ----------------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    tp_pool *pool;
} PoolObject;

static PyTypeObject PoolType;

static void Pool_dealloc(PoolObject *self)
{
    if (self->pool) tp_destroy(self->pool);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Pool_init(PoolObject *self, PyObject *args, PyObject *kwds)
{
    static char *kw[] = {"budget_bytes", "spill_dir", NULL};
    PyObject *budget = Py_None;
    const char *spill = NULL;
    tp_desc d;
    tp_error err;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|Oz", kw, &budget, &spill)) return -1;
    memset(&d, 0, sizeof d);
    if (budget != Py_None) {
        unsigned long long b = PyLong_AsUnsignedLongLong(budget);
        if (PyErr_Occurred()) return -1;
        if (b == 0) {
            PyErr_SetString(PyExc_ValueError, "budget_bytes must be positive (None: no budget)");
            return -1;
        }
        d.budget_bytes = (size_t)b;
    }
    d.spill_dir = spill;
    if (self->pool) tp_destroy(self->pool), self->pool = NULL;
    if (tp_create(&d, &self->pool, &err) != TP_OK) {
        mb_raise(&err);
        return -1;
    }
    return 0;
}

#define MB_PUT(dict, name, value)                                                                     \
    do {                                                                                             \
        PyObject *v_ = (value);                                                                      \
        if (!v_ || PyDict_SetItemString(dict, name, v_) < 0) { Py_XDECREF(v_); Py_DECREF(dict); return NULL; } \
        Py_DECREF(v_);                                                                               \
    } while (0)

static PyObject *Pool_stats(PoolObject *self, PyObject *unused)
{
    tp_stats s;
    PyObject *d = PyDict_New();
    (void)unused;
    if (!d) return NULL;
    s = tp_get_stats(self->pool);
    MB_PUT(d, "allocs", PyLong_FromUnsignedLongLong(s.allocs));
    MB_PUT(d, "hits", PyLong_FromUnsignedLongLong(s.hits));
    MB_PUT(d, "misses", PyLong_FromUnsignedLongLong(s.misses));
    MB_PUT(d, "frees", PyLong_FromUnsignedLongLong(s.frees));
    MB_PUT(d, "failures", PyLong_FromUnsignedLongLong(s.failures));
    MB_PUT(d, "spills", PyLong_FromUnsignedLongLong(s.spills));
    MB_PUT(d, "hit_rate", PyFloat_FromDouble(s.hit_rate));
    MB_PUT(d, "bytes_live", PyLong_FromSize_t(s.bytes_live));
    MB_PUT(d, "bytes_cached", PyLong_FromSize_t(s.bytes_cached));
    MB_PUT(d, "bytes_reserved", PyLong_FromSize_t(s.bytes_reserved));
    MB_PUT(d, "bytes_spilled", PyLong_FromSize_t(s.bytes_spilled));
    MB_PUT(d, "peak_live", PyLong_FromSize_t(s.peak_live));
    MB_PUT(d, "peak_reserved", PyLong_FromSize_t(s.peak_reserved));
    MB_PUT(d, "peak_spilled", PyLong_FromSize_t(s.peak_spilled));
    MB_PUT(d, "live_blocks", PyLong_FromSize_t(s.live_blocks));
    MB_PUT(d, "budget", PyLong_FromSize_t(s.budget));
    return d;
}

static PyObject *Pool_trim(PoolObject *self, PyObject *unused)
{
    (void)unused;
    return PyLong_FromSize_t(tp_trim(self->pool));
}

static PyMethodDef Pool_methods[] = {
    {"stats", (PyCFunction)Pool_stats, METH_NOARGS, "The pool's statistics as a dict of numbers."},
    {"trim", (PyCFunction)Pool_trim, METH_NOARGS, "Returns cached memory to the system; the bytes returned."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject PoolType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "membound.Pool",
    .tp_basicsize = sizeof(PoolObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Pool(budget_bytes=None, spill_dir=None)\n\nA tensorpool memory pool: buffers reused with their pages, an optional\n"
              "budget (a request past it raises BudgetError, or spills to files in spill_dir), statistics.\n"
              "Pass it as pool= to share its cache and budget between calls.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Pool_init,
    .tp_dealloc = (destructor)Pool_dealloc,
    .tp_methods = Pool_methods,
};

/* The pool argument of a function: a Pool, or None (a private pool for the call) */
static int mb_pool_arg(PyObject *o, tp_pool **pool)
{
    if (o == Py_None || !o) {
        *pool = NULL;
        return 1;
    }
    if (!PyObject_TypeCheck(o, &PoolType)) {
        PyErr_SetString(PyExc_TypeError, "pool must be a membound.Pool or None");
        return 0;
    }
    *pool = ((PoolObject *)o)->pool;
    return 1;
}

/* ---- memory_info ----------------------------------------------------------------------------- */

static PyObject *mb_memory_info(PyObject *self, PyObject *unused)
{
    tp_memory_info mi;
    tp_error err;
    PyObject *d;
    (void)self, (void)unused;
    if (tp_query_memory(&mi, NULL, &err) != TP_OK) return mb_raise(&err);
    if (!(d = PyDict_New())) return NULL;
    MB_PUT(d, "mem_total", PyLong_FromSize_t(mi.mem_total));
    MB_PUT(d, "mem_available", PyLong_FromSize_t(mi.mem_available));
    MB_PUT(d, "cgroup_version", PyLong_FromLong(mi.cgroup_version));
    MB_PUT(d, "cgroup_limit", PyLong_FromSize_t(mi.cgroup_limit));
    MB_PUT(d, "cgroup_usage", PyLong_FromSize_t(mi.cgroup_usage));
    MB_PUT(d, "usable", PyLong_FromSize_t(mi.usable));
    return d;
}

static PyObject *mb_build_info(PyObject *self, PyObject *unused)
{
    (void)self, (void)unused;
    return Py_BuildValue("(ssss)", tp_build_info(), ss_build_info(), p2d_build_info(), pac_build_info());
}

/* ---- prominence ----------------------------------------------------------------------------- */

/* The peaks of every time bin, gathered as rows of (t, ix, iy, height, prominence, col_level) */
typedef struct mb_rows {
    double *v;
    size_t n, cap; /* rows */
    int nomem;
} mb_rows;

static int mb_on_slice(void *user, const p2d_slice *s)
{
    mb_rows *r = (mb_rows *)user;
    size_t k;
    if (r->n + s->n_peaks > r->cap) {
        size_t cap = r->cap ? r->cap : 1024;
        double *v;
        while (cap < r->n + s->n_peaks) cap *= 2;
        if (!(v = (double *)realloc(r->v, cap * 6 * sizeof(double)))) {
            r->nomem = 1;
            return 1;
        }
        r->v = v, r->cap = cap;
    }
    for (k = 0; k < s->n_peaks; k++) {
        double *row = r->v + (r->n + k) * 6;
        const p2d_peak *p = s->peaks + k;
        row[0] = (double)s->t, row[1] = p->ix, row[2] = p->iy, row[3] = p->height, row[4] = p->prominence,
        row[5] = p->col_level;
    }
    r->n += s->n_peaks;
    return 0;
}

typedef struct mb_p2d_user { mb_rows rows; mb_progress progress; } mb_p2d_user;
static int mb_p2d_slice(void *user, const p2d_slice *s) { return mb_on_slice(&((mb_p2d_user *)user)->rows, s); }
static int mb_p2d_progress(void *user, uint64_t done, uint64_t total)
{
    return mb_progress_call(&((mb_p2d_user *)user)->progress, done, total);
}

static PyObject *mb_prominence(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kw[] = {"posterior", "alphas", "connectivity", "mode", "periodic", "valleys", "min_prominence",
                         "n_threads", "progress", "pool", NULL};
    PyObject *post_o, *alphas_o = Py_None, *progress = Py_None, *pool_o = Py_None, *peaks = NULL, *masks = NULL;
    PyArrayObject *post = NULL, *alphas = NULL;
    const char *mode = "exact", *periodic = NULL;
    int connectivity = 8, valleys = 0, n_threads = 0, rc, ndim;
    double min_prom = 0;
    p2d_desc d;
    p2d_cube c;
    p2d_masks m;
    p2d_ctx *ctx = NULL;
    mb_p2d_user u;
    tp_error err;
    npy_intp dims[4];
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|Oiszpdi$OO", kw, &post_o, &alphas_o, &connectivity, &mode, &periodic,
                                     &valleys, &min_prom, &n_threads, &progress, &pool_o))
        return NULL;
    memset(&d, 0, sizeof d), memset(&c, 0, sizeof c), memset(&m, 0, sizeof m), memset(&u, 0, sizeof u);
    if (!mb_pool_arg(pool_o, &d.pool)) return NULL;
    if (progress != Py_None && !PyCallable_Check(progress)) return PyErr_Format(PyExc_TypeError, "progress must be callable");
    /* float32 and float64 arrays go in as they are (any strides); anything else becomes float64 */
    post = (PyArrayObject *)PyArray_FROMANY(post_o, NPY_NOTYPE, 2, 3, NPY_ARRAY_ALIGNED);
    if (!post) return NULL;
    if (PyArray_TYPE(post) != NPY_FLOAT64 && PyArray_TYPE(post) != NPY_FLOAT32) {
        PyArrayObject *f = (PyArrayObject *)PyArray_FROMANY((PyObject *)post, NPY_FLOAT64, 2, 3, NPY_ARRAY_ALIGNED);
        Py_DECREF(post);
        if (!(post = f)) return NULL;
    }
    ndim = PyArray_NDIM(post);
    c.data = PyArray_DATA(post);
    c.dtype = PyArray_TYPE(post) == NPY_FLOAT32 ? TP_F32 : TP_F64;
    c.n_x = (size_t)PyArray_DIM(post, 0), c.n_y = (size_t)PyArray_DIM(post, 1), c.n_t = ndim == 3 ? (size_t)PyArray_DIM(post, 2) : 1;
    c.stride_x = PyArray_STRIDE(post, 0) / PyArray_ITEMSIZE(post);
    c.stride_y = PyArray_STRIDE(post, 1) / PyArray_ITEMSIZE(post);
    c.stride_t = ndim == 3 ? PyArray_STRIDE(post, 2) / PyArray_ITEMSIZE(post) : 1;
    if (!strcmp(mode, "exact")) d.mode = P2D_MODE_EXACT;
    else if (!strcmp(mode, "pypho")) d.mode = P2D_MODE_PYPHO;
    else {
        Py_DECREF(post);
        return PyErr_Format(mb_arg_error, "mode is 'exact' or 'pypho', not '%s'", mode);
    }
    if (!periodic || !strcmp(periodic, "")) d.periodic = P2D_PERIODIC_NONE;
    else if (!strcmp(periodic, "x")) d.periodic = P2D_PERIODIC_X;
    else if (!strcmp(periodic, "y")) d.periodic = P2D_PERIODIC_Y;
    else if (!strcmp(periodic, "xy")) d.periodic = P2D_PERIODIC_XY;
    else {
        Py_DECREF(post);
        return PyErr_Format(mb_arg_error, "periodic is None, 'x', 'y' or 'xy', not '%s'", periodic);
    }
    if (alphas_o != Py_None) {
        if (!(alphas = (PyArrayObject *)PyArray_FROMANY(alphas_o, NPY_FLOAT64, 0, 1, NPY_ARRAY_IN_ARRAY))) goto done;
        d.alphas = (const double *)PyArray_DATA(alphas);
        d.n_alpha = (size_t)PyArray_SIZE(alphas);
        dims[0] = (npy_intp)d.n_alpha, dims[1] = (npy_intp)c.n_x, dims[2] = (npy_intp)c.n_y, dims[3] = (npy_intp)c.n_t;
        if (!(masks = PyArray_ZEROS(ndim + 1, dims, NPY_BOOL, 0))) goto done;
        m.data = PyArray_DATA((PyArrayObject *)masks);
        m.stride_alpha = (ptrdiff_t)(c.n_x * c.n_y * c.n_t), m.stride_x = (ptrdiff_t)(c.n_y * c.n_t);
        m.stride_y = (ptrdiff_t)c.n_t, m.stride_t = 1;
    }
    d.connectivity = connectivity, d.valleys = valleys, d.min_prominence = min_prom, d.n_threads = n_threads;
    d.on_slice = mb_p2d_slice, d.user = &u;
    u.progress.fn = progress == Py_None ? NULL : progress;
    if (u.progress.fn) d.progress = mb_p2d_progress;
    Py_BEGIN_ALLOW_THREADS
    rc = p2d_create(&d, &ctx, &err);
    if (rc == TP_OK) rc = p2d_run(ctx, &c, d.n_alpha ? &m : NULL, NULL, NULL, &err);
    p2d_destroy(ctx);
    Py_END_ALLOW_THREADS
    if (mb_progress_restore(&u.progress)) goto done; /* the callable's own exception */
    if (u.rows.nomem) { PyErr_NoMemory(); goto done; }
    if (rc != TP_OK) { mb_raise(&err); goto done; }
    dims[0] = (npy_intp)u.rows.n, dims[1] = 6;
    if (!(peaks = PyArray_SimpleNew(2, dims, NPY_FLOAT64))) goto done;
    if (u.rows.n) memcpy(PyArray_DATA((PyArrayObject *)peaks), u.rows.v, u.rows.n * 6 * sizeof(double));
done:
    free(u.rows.v);
    Py_XDECREF(post), Py_XDECREF(alphas);
    if (!peaks) {
        Py_XDECREF(masks);
        return NULL;
    }
    if (!masks) return peaks;
    return Py_BuildValue("(NN)", peaks, masks);
}

/* ---- pac: pac_run on numpy arrays ------------------------------------------------------------- */

typedef struct mb_pac_user { mb_progress progress; } mb_pac_user;
static int mb_pac_progress(void *user, uint64_t done, uint64_t total)
{
    return mb_progress_call(&((mb_pac_user *)user)->progress, done, total);
}

/* An (n, 2) float64 array of bands, C order (a copy only when it is not one already) */
static PyArrayObject *mb_bands(PyObject *o, const char *what)
{
    PyArrayObject *a = (PyArrayObject *)PyArray_FROMANY(o, NPY_FLOAT64, 2, 2, NPY_ARRAY_IN_ARRAY);
    if (a && PyArray_DIM(a, 1) != 2) {
        PyErr_Format(mb_arg_error, "%s must have shape (n, 2), [low, high] Hz per band", what);
        Py_DECREF(a);
        return NULL;
    }
    return a;
}

/* The signals as pac_run reads them: float32 or float64, C order, (n_signals, n_times); copied
   only when they are not already so */
static PyArrayObject *mb_signals(PyObject *o, int dtype)
{
    PyArrayObject *a = (PyArrayObject *)PyArray_FROMANY(o, dtype, 2, 2, NPY_ARRAY_IN_ARRAY);
    return a;
}

/* Given phases or amplitudes: (n_bands, n_signals, n_times) float64, C order (copied only when
   they are not already so) */
static PyArrayObject *mb_given(PyObject *o, const char *what)
{
    if (o == Py_None) {
        PyErr_Format(mb_arg_error, "%s is needed: (n_bands, n_epochs, n_times)", what);
        return NULL;
    }
    return (PyArrayObject *)PyArray_FROMANY(o, NPY_FLOAT64, 3, 3, NPY_ARRAY_IN_ARRAY);
}

/* Both given arrays, of the same (n_epochs, n_times); 0 with the exception set */
static int mb_given_pair(PyObject *pha_o, PyObject *amp_o, PyArrayObject **pha, PyArrayObject **amp)
{
    PyArrayObject *p, *a;
    if (!(*pha = mb_given(pha_o, "pha")) || !(*amp = mb_given(amp_o, "amp"))) return 0;
    p = *pha, a = *amp;
    if (PyArray_DIM(p, 1) == PyArray_DIM(a, 1) && PyArray_DIM(p, 2) == PyArray_DIM(a, 2)) return 1;
    PyErr_Format(mb_arg_error, "pha has shape (%zd, %zd, %zd) and amp (%zd, %zd, %zd): their (n_epochs, n_times) must match",
                 (Py_ssize_t)PyArray_DIM(p, 0), (Py_ssize_t)PyArray_DIM(p, 1), (Py_ssize_t)PyArray_DIM(p, 2),
                 (Py_ssize_t)PyArray_DIM(a, 0), (Py_ssize_t)PyArray_DIM(a, 1), (Py_ssize_t)PyArray_DIM(a, 2));
    return 0;
}

/* What pac_run / pac_erpac read, or pac_fit / pac_erpac_fit: the arrays held for the call */
typedef struct mb_inputs {
    PyArrayObject *x, *xamp, *pb, *ab, *gpha, *gamp;
    int dtype;          /* x's: NPY_FLOAT32 or NPY_FLOAT64 */
    size_t ns, nt;      /* signals (epochs) and samples */
} mb_inputs;

/* The signals x (and x_amp) with their bands into d, or, x None, the given phases and amplitudes;
   0 with the exception set */
static int mb_inputs_read(PyObject *x_o, PyObject *xamp_o, PyObject *pha_o, PyObject *amp_o, PyObject *gpha_o,
                          PyObject *gamp_o, double fs, pac_desc *d, mb_inputs *in)
{
    memset(in, 0, sizeof *in);
    in->dtype = NPY_FLOAT64;
    if (x_o == Py_None) { /* (n_bands, n_signals, n_times) float64 each */
        if (!mb_given_pair(gpha_o, gamp_o, &in->gpha, &in->gamp)) return 0;
        d->n_pha = (size_t)PyArray_DIM(in->gpha, 0), d->n_amp = (size_t)PyArray_DIM(in->gamp, 0);
        in->ns = (size_t)PyArray_DIM(in->gpha, 1), in->nt = (size_t)PyArray_DIM(in->gpha, 2);
        return 1;
    }
    if (!(in->x = (PyArrayObject *)PyArray_FROMANY(x_o, NPY_NOTYPE, 1, 2, 0))) return 0;
    in->dtype = PyArray_TYPE(in->x) == NPY_FLOAT32 ? NPY_FLOAT32 : NPY_FLOAT64;
    Py_SETREF(in->x, mb_signals((PyObject *)in->x, in->dtype));
    if (!in->x) return 0;
    if (xamp_o != Py_None) {
        if (!(in->xamp = mb_signals(xamp_o, in->dtype))) return 0;
        if (!PyArray_SAMESHAPE(in->x, in->xamp)) {
            PyErr_Format(mb_arg_error, "x_amp has shape (%zd, %zd) but the phase signals x have (%zd, %zd): they must match",
                         (Py_ssize_t)PyArray_DIM(in->xamp, 0), (Py_ssize_t)PyArray_DIM(in->xamp, 1),
                         (Py_ssize_t)PyArray_DIM(in->x, 0), (Py_ssize_t)PyArray_DIM(in->x, 1));
            return 0;
        }
        d->x_amp = PyArray_DATA(in->xamp);
    }
    if (!(in->pb = mb_bands(pha_o, "f_pha")) || !(in->ab = mb_bands(amp_o, "f_amp"))) return 0;
    d->fs = fs, d->pha_bands = (const double *)PyArray_DATA(in->pb), d->n_pha = (size_t)PyArray_DIM(in->pb, 0);
    d->amp_bands = (const double *)PyArray_DATA(in->ab), d->n_amp = (size_t)PyArray_DIM(in->ab, 0);
    in->ns = (size_t)PyArray_DIM(in->x, 0), in->nt = (size_t)PyArray_DIM(in->x, 1);
    return 1;
}

static void mb_inputs_free(mb_inputs *in)
{
    Py_XDECREF(in->x), Py_XDECREF(in->xamp), Py_XDECREF(in->pb), Py_XDECREF(in->ab), Py_XDECREF(in->gpha), Py_XDECREF(in->gamp);
}

/* Replayed swap-epochs pairings (n_perm, n_signals) into d, held in *pairs; 0 with the exception set */
static int mb_pairs(PyObject *o, size_t n_sig, const char *shape, pac_desc *d, PyArrayObject **pairs)
{
    if (o == Py_None) return 1;
    if (!(*pairs = (PyArrayObject *)PyArray_FROMANY(o, NPY_UINT32, 2, 2, NPY_ARRAY_IN_ARRAY))) return 0;
    if ((size_t)PyArray_DIM(*pairs, 0) != d->n_perm || (size_t)PyArray_DIM(*pairs, 1) != n_sig) {
        PyErr_Format(mb_arg_error, "pairs must have shape %s", shape);
        return 0;
    }
    d->pairs = (const uint32_t *)PyArray_DATA(*pairs);
    return 1;
}

static PyObject *mb_pac(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kw[] = {"x", "fs", "pha_bands", "amp_bands", "measure", "surrogates", "norm", "n_perm", "cuts", "pairs",
                         "mi_form", "n_bins", "dcomplex", "width", "pha_cycles", "amp_cycles", "edges", "x_amp", "mcp", "p",
                         "n_threads", "keep_surrogates", "progress", "pool", "binned", "pha", "amp", NULL};
    PyObject *x_o, *pha_o, *amp_o, *gpha_o = Py_None, *gamp_o = Py_None, *cuts_o = Py_None, *pairs_o = Py_None,
             *xamp_o = Py_None, *progress = Py_None, *pool_o = Py_None, *res = NULL, *pac = NULL, *norm = NULL,
             *pvalues = NULL, *surr = NULL, *binned = NULL, *pp = NULL;
    PyArrayObject *cuts = NULL, *pairs = NULL;
    mb_inputs in;
    int measure = 2, surrogates = 0, normid = 0, mi_form = 2, n_bins = 18, dcomplex = 0, pha_cycles = 3, amp_cycles = 6,
        mcp = 0, n_threads = 0, keep = 1, want_binned = 0, rc;
    Py_ssize_t n_perm = 0, edges = 0;
    double fs, width = 7, p = 0.05, t0 = 0;
    pac_desc d;
    pac_output out;
    mb_pac_user u;
    tp_error err;
    npy_intp dims[4];
    size_t ns, nt;
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OdOO|iiinOOiiidiinOidipOOpOO", kw, &x_o, &fs, &pha_o, &amp_o, &measure,
                                     &surrogates, &normid, &n_perm, &cuts_o, &pairs_o, &mi_form, &n_bins, &dcomplex, &width,
                                     &pha_cycles, &amp_cycles, &edges, &xamp_o, &mcp, &p, &n_threads, &keep, &progress, &pool_o,
                                     &want_binned, &gpha_o, &gamp_o))
        return NULL;
    memset(&d, 0, sizeof d), memset(&out, 0, sizeof out), memset(&u, 0, sizeof u), memset(&in, 0, sizeof in);
    if (!mb_pool_arg(pool_o, &d.pool)) return NULL;
    if (progress != Py_None && !PyCallable_Check(progress)) return PyErr_Format(PyExc_TypeError, "progress must be callable");
    if (n_perm < 0 || edges < 0) return PyErr_Format(mb_arg_error, "n_perm and edges must be >= 0");
    if (!mb_inputs_read(x_o, xamp_o, pha_o, amp_o, gpha_o, gamp_o, fs, &d, &in)) goto done;
    ns = in.ns, nt = in.nt;
    d.measure = (pac_measure)measure, d.method = (pac_mi)mi_form, d.n_bins = n_bins, d.dcomplex = (pac_dcomplex)dcomplex;
    d.width = width, d.pha_cycles = pha_cycles, d.amp_cycles = amp_cycles, d.edges = (size_t)edges, d.mcp = (pac_mcp)mcp;
    d.p_threshold = p, d.n_threads = n_threads, d.norm = (pac_norm)normid, d.n_perm = (size_t)n_perm;
    d.surrogates = surrogates == 1 ? PAC_SURR_SWAP_EPOCHS : surrogates == 2 ? PAC_SURR_SWAP_BLOCKS
                 : surrogates == 3 ? PAC_SURR_TIME_LAG : PAC_SURR_NONE;
    if (cuts_o != Py_None) {
        if (!(cuts = (PyArrayObject *)PyArray_FROMANY(cuts_o, NPY_INT64, 1, 1, NPY_ARRAY_IN_ARRAY))) goto done;
        if ((size_t)PyArray_DIM(cuts, 0) != d.n_perm) { PyErr_Format(mb_arg_error, "cuts must hold n_perm values"); goto done; }
        d.cuts = (const int64_t *)PyArray_DATA(cuts);
    }
    if (!mb_pairs(pairs_o, ns, "(n_perm, n_signals)", &d, &pairs)) goto done;
    u.progress.fn = progress == Py_None ? NULL : progress;
    if (u.progress.fn) d.progress = mb_pac_progress, d.user = &u;
    dims[0] = (npy_intp)d.n_amp, dims[1] = (npy_intp)d.n_pha, dims[2] = (npy_intp)ns;
    if (!(pac = PyArray_SimpleNew(3, dims, NPY_FLOAT64)) || !(norm = PyArray_SimpleNew(3, dims, NPY_FLOAT64))) goto done;
    out.pac = (double *)PyArray_DATA((PyArrayObject *)pac), out.norm = (double *)PyArray_DATA((PyArrayObject *)norm);
    if (want_binned) { /* the binned amplitude and the preferred phase (PreferredPhase) */
        npy_intp bd[4];
        bd[0] = (npy_intp)(n_bins ? n_bins : PAC_N_BINS), bd[1] = dims[0], bd[2] = dims[1], bd[3] = dims[2];
        if (!(binned = PyArray_SimpleNew(4, bd, NPY_FLOAT64)) || !(pp = PyArray_SimpleNew(3, dims, NPY_FLOAT64))) goto done;
        out.binned = (double *)PyArray_DATA((PyArrayObject *)binned), out.pp = (double *)PyArray_DATA((PyArrayObject *)pp);
    }
    if (d.n_perm && d.surrogates != PAC_SURR_NONE) {
        if (!(pvalues = PyArray_SimpleNew(2, dims, NPY_FLOAT64))) goto done;
        out.pvalues = (double *)PyArray_DATA((PyArrayObject *)pvalues);
        if (keep) {
            npy_intp sd[4];
            sd[0] = (npy_intp)d.n_perm, sd[1] = dims[0], sd[2] = dims[1], sd[3] = dims[2];
            if (!(surr = PyArray_SimpleNew(4, sd, NPY_FLOAT64))) goto done;
            out.surrogates = (double *)PyArray_DATA((PyArrayObject *)surr);
        }
    }
    Py_BEGIN_ALLOW_THREADS
    t0 = mb_now();
    rc = in.x ? pac_run(&d, PyArray_DATA(in.x), in.dtype == NPY_FLOAT32 ? TP_F32 : TP_F64, ns, nt, NULL, &out, &err)
              : pac_fit(&d, (const double *)PyArray_DATA(in.gpha), (const double *)PyArray_DATA(in.gamp), ns, nt, &out, &err);
    t0 = mb_now() - t0;
    Py_END_ALLOW_THREADS
    if (mb_progress_restore(&u.progress)) goto done;
    if (rc != TP_OK) { mb_raise(&err); goto done; }
    res = Py_BuildValue("{s:O,s:O,s:O,s:O,s:O,s:O,s:d}", "pac", pac, "norm", norm, "pvalues", pvalues ? pvalues : Py_None,
                        "surrogates", surr ? surr : Py_None, "binned", binned ? binned : Py_None, "pp", pp ? pp : Py_None,
                        "c_seconds", t0);
done:
    mb_inputs_free(&in);
    Py_XDECREF(cuts), Py_XDECREF(pairs), Py_XDECREF(pac), Py_XDECREF(norm), Py_XDECREF(pvalues), Py_XDECREF(surr), Py_XDECREF(binned), Py_XDECREF(pp);
    return res;
}

/* ---- tensorpac's surrogate draws: numpy's legacy RandomState(seed) for seed, seed + 1, ... --------
   tensorpac draws surrogate k from numpy.random.RandomState(random_state + k): a cut randint(1, n)
   (swap-blocks), randint(n) (time-lag) or permutation(n_epochs) (swap-epochs). Building 200
   RandomStates in Python costs ~20 ms; the same Mersenne Twister here (init_genrand seeding, masked
   rejection for bounded integers, Fisher-Yates from the end for permutations, as numpy's legacy
   generator) costs microseconds. Tested equal to numpy's for many seeds. */
typedef struct mb_mt { uint32_t mt[624]; int pos; } mb_mt;

static void mb_mt_seed(mb_mt *s, uint32_t seed)
{
    int i;
    s->mt[0] = seed;
    for (i = 1; i < 624; i++) s->mt[i] = 1812433253u * (s->mt[i - 1] ^ (s->mt[i - 1] >> 30)) + (uint32_t)i;
    s->pos = 624;
}

/* The twist, one word at a time just before it is used: twisting word i in place, in order,
   is the whole-block twist (the words after i are still old, those before already new), and a
   surrogate's draw seldom needs more than a word or two of the 624 */
static uint32_t mb_mt_next(mb_mt *s)
{
    uint32_t y;
    int i;
    if (s->pos >= 624) s->pos = 0;
    i = s->pos;
    y = (s->mt[i] & 0x80000000u) | (s->mt[(i + 1) % 624] & 0x7fffffffu);
    s->mt[i] = s->mt[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
    y = s->mt[s->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    return y ^ (y >> 18);
}

/* a value in [0, max] by masked rejection (max < 2^32) */
static uint32_t mb_mt_interval(mb_mt *s, uint32_t max)
{
    uint32_t mask = max, v;
    if (max == 0) return 0;
    mask |= mask >> 1, mask |= mask >> 2, mask |= mask >> 4, mask |= mask >> 8, mask |= mask >> 16;
    while ((v = mb_mt_next(s) & mask) > max) {}
    return v;
}

/* tensorpac_draws(kind, n_perm, random_state, n_times, n_epochs) -> cuts (int64, kinds 2 and 3) or
   pairs (uint32 (n_perm, n_epochs), kind 1) */
static PyObject *mb_tensorpac_draws(PyObject *self, PyObject *args)
{
    int kind;
    Py_ssize_t n_perm, n_times, n_epochs;
    unsigned long long seed;
    npy_intp dims[2];
    PyObject *a;
    mb_mt st;
    Py_ssize_t k, i;
    (void)self;
    if (!PyArg_ParseTuple(args, "inKnn", &kind, &n_perm, &seed, &n_times, &n_epochs)) return NULL;
    if (n_perm < 0 || n_times < 2 || n_epochs < 1 || kind < 1 || kind > 3)
        return PyErr_Format(mb_arg_error, "tensorpac_draws: kind 1-3, n_perm >= 0, n_times >= 2, n_epochs >= 1");
    if (seed + (unsigned long long)n_perm > 0x100000000ull)
        return PyErr_Format(mb_arg_error, "random_state + n_perm must stay below 2**32 (numpy's seeds)");
    dims[0] = (npy_intp)n_perm, dims[1] = (npy_intp)n_epochs;
    if (!(a = kind == 1 ? PyArray_SimpleNew(2, dims, NPY_UINT32) : PyArray_SimpleNew(1, dims, NPY_INT64))) return NULL;
    for (k = 0; k < n_perm; k++) {
        mb_mt_seed(&st, (uint32_t)(seed + (unsigned long long)k));
        if (kind == 1) { /* permutation(n_epochs): Fisher-Yates from the end */
            uint32_t *p = (uint32_t *)PyArray_DATA((PyArrayObject *)a) + k * n_epochs;
            for (i = 0; i < n_epochs; i++) p[i] = (uint32_t)i;
            for (i = n_epochs - 1; i > 0; i--) {
                uint32_t j = mb_mt_interval(&st, (uint32_t)i), t = p[i];
                p[i] = p[j], p[j] = t;
            }
        } else { /* randint(1, n_times) or randint(n_times) */
            int64_t lo = kind == 2 ? 1 : 0;
            ((int64_t *)PyArray_DATA((PyArrayObject *)a))[k] = lo + (int64_t)mb_mt_interval(&st, (uint32_t)(n_times - 1 - lo));
        }
    }
    return a;
}

/* erpac(x, fs, pha_bands, amp_bands, method, smooth, n_perm, pairs, p, mcp, dcomplex, width, pha_cycles,
   amp_cycles, edges, x_amp, n_threads, progress) -> (erpac, pvalues or None): pacgpu's pac_erpac */
static PyObject *mb_erpac(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kw[] = {"x", "fs", "pha_bands", "amp_bands", "method", "smooth", "n_perm", "pairs", "p", "mcp", "dcomplex",
                         "width", "pha_cycles", "amp_cycles", "edges", "x_amp", "n_threads", "pvalues", "progress", "pha", "amp",
                         "keep_surrogates", NULL};
    PyObject *x_o, *pha_o, *amp_o, *pairs_o = Py_None, *xamp_o = Py_None, *progress = Py_None, *er = NULL, *pv = NULL,
             *res = NULL, *gpha_o = Py_None, *gamp_o = Py_None, *surr = NULL;
    PyArrayObject *pairs = NULL;
    mb_inputs in;
    size_t ne, nt;
    int method = 0, mcp = 1, dcomplex = 0, pha_cycles = 3, amp_cycles = 6, n_threads = 0, want_p = 1, keep = 0, rc;
    Py_ssize_t smooth = 0, n_perm = 0, edges = 0;
    double fs, p = 0.05, width = 7;
    pac_desc d;
    pac_erpac_output out;
    mb_pac_user u;
    tp_error err;
    npy_intp dims[3];
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OdOO|innOdiidiinOipOOOp", kw, &x_o, &fs, &pha_o, &amp_o, &method, &smooth,
                                     &n_perm, &pairs_o, &p, &mcp, &dcomplex, &width, &pha_cycles, &amp_cycles, &edges, &xamp_o,
                                     &n_threads, &want_p, &progress, &gpha_o, &gamp_o, &keep))
        return NULL;
    memset(&d, 0, sizeof d), memset(&out, 0, sizeof out), memset(&u, 0, sizeof u), memset(&in, 0, sizeof in);
    if (smooth < 0 || n_perm < 0 || edges < 0) return PyErr_Format(mb_arg_error, "smooth, n_perm and edges must be >= 0");
    if (progress != Py_None && !PyCallable_Check(progress)) return PyErr_Format(PyExc_TypeError, "progress must be callable");
    if (!mb_inputs_read(x_o, xamp_o, pha_o, amp_o, gpha_o, gamp_o, fs, &d, &in)) goto done;
    ne = in.ns, nt = in.nt;
    d.smooth = (size_t)smooth, d.n_perm = (size_t)n_perm, d.p_threshold = p, d.mcp = (pac_mcp)mcp;
    d.dcomplex = (pac_dcomplex)dcomplex, d.width = width, d.pha_cycles = pha_cycles, d.amp_cycles = amp_cycles;
    d.edges = (size_t)edges, d.n_threads = n_threads, d.surrogates = n_perm ? PAC_SURR_SWAP_EPOCHS : PAC_SURR_NONE;
    if (!mb_pairs(pairs_o, ne, "(n_perm, n_epochs)", &d, &pairs)) goto done;
    u.progress.fn = progress == Py_None ? NULL : progress;
    if (u.progress.fn) d.progress = mb_pac_progress, d.user = &u;
    dims[0] = (npy_intp)d.n_amp, dims[1] = (npy_intp)d.n_pha, dims[2] = (npy_intp)nt - 2 * (npy_intp)edges;
    if (dims[2] < 1) { PyErr_Format(mb_arg_error, "edges leave no sample"); goto done; }
    if (!(er = PyArray_SimpleNew(3, dims, NPY_FLOAT64))) goto done;
    out.erpac = (double *)PyArray_DATA((PyArrayObject *)er);
    if (want_p) {
        if (!(pv = PyArray_SimpleNew(3, dims, NPY_FLOAT64))) goto done;
        out.pvalues = (double *)PyArray_DATA((PyArrayObject *)pv);
    }
    if (keep && method == PAC_ERPAC_GC && n_perm > 0) { /* every permutation's map */
        npy_intp sd[4];
        sd[0] = (npy_intp)n_perm, sd[1] = dims[0], sd[2] = dims[1], sd[3] = dims[2];
        if (!(surr = PyArray_SimpleNew(4, sd, NPY_FLOAT64))) goto done;
        out.surrogates = (double *)PyArray_DATA((PyArrayObject *)surr);
    }
    Py_BEGIN_ALLOW_THREADS
    rc = in.x ? pac_erpac(&d, (pac_erpac_method)method, PyArray_DATA(in.x), in.dtype == NPY_FLOAT32 ? TP_F32 : TP_F64, ne, nt, &out,
                          &err)
              : pac_erpac_fit(&d, (pac_erpac_method)method, (const double *)PyArray_DATA(in.gpha), (const double *)PyArray_DATA(in.gamp),
                           ne, nt, &out, &err);
    Py_END_ALLOW_THREADS
    if (mb_progress_restore(&u.progress)) goto done;
    if (rc != TP_OK) { mb_raise(&err); goto done; }
    res = Py_BuildValue("(OOO)", er, pv ? pv : Py_None, surr ? surr : Py_None);
done:
    mb_inputs_free(&in);
    Py_XDECREF(pairs), Py_XDECREF(er), Py_XDECREF(pv), Py_XDECREF(surr);
    return res;
}

/* bandpass(x (n_signals, n_times) float64, fs, bands (n, 2), cycles, what): pac_bandpass */
static PyObject *mb_bandpass(PyObject *self, PyObject *args)
{
    PyObject *x_o, *b_o, *out = NULL;
    PyArrayObject *x = NULL, *b = NULL;
    const char *what;
    double fs, width = 0;
    int cycles, rc;
    pac_signal_kind kind;
    npy_intp dims[3];
    tp_error err;
    (void)self;
    if (!PyArg_ParseTuple(args, "OdOis|d", &x_o, &fs, &b_o, &cycles, &what, &width)) return NULL;
    if (!strcmp(what, "phase")) kind = PAC_PHASE;
    else if (!strcmp(what, "amplitude")) kind = PAC_AMPLITUDE;
    else if (!strcmp(what, "filtered")) kind = PAC_FILTERED;
    else return PyErr_Format(mb_arg_error, "what is 'phase', 'amplitude' or 'filtered'");
    if (!(x = mb_signals(x_o, NPY_FLOAT64)) || !(b = mb_bands(b_o, "bands"))) goto done;
    dims[0] = PyArray_DIM(b, 0), dims[1] = PyArray_DIM(x, 0), dims[2] = PyArray_DIM(x, 1);
    if (!(out = PyArray_SimpleNew(3, dims, NPY_FLOAT64))) goto done;
    Py_BEGIN_ALLOW_THREADS
    if (width > 0) /* Morlet wavelets */
        rc = pac_wavelet(NULL, (const double *)PyArray_DATA(x), (size_t)dims[1], (size_t)dims[2], fs,
                         (const double *)PyArray_DATA(b), (size_t)dims[0], width, kind,
                         (double *)PyArray_DATA((PyArrayObject *)out), &err);
    else
        rc = pac_bandpass(NULL, (const double *)PyArray_DATA(x), (size_t)dims[1], (size_t)dims[2], fs,
                          (const double *)PyArray_DATA(b), (size_t)dims[0], cycles, kind,
                          (double *)PyArray_DATA((PyArrayObject *)out), &err);
    Py_END_ALLOW_THREADS
    if (rc != TP_OK) {
        Py_CLEAR(out);
        mb_raise(&err);
    }
done:
    Py_XDECREF(x), Py_XDECREF(b);
    return out;
}

static PyObject *mb_band_preset(PyObject *self, PyObject *args)
{
    const char *name, *kind;
    double bands[2 * 256];
    size_t n = 256;
    tp_error err;
    npy_intp dims[2];
    PyObject *a;
    (void)self;
    if (!PyArg_ParseTuple(args, "ss", &name, &kind)) return NULL;
    if (strcmp(kind, "phase") && strcmp(kind, "amplitude")) return PyErr_Format(mb_arg_error, "kind is 'phase' or 'amplitude'");
    if (pac_band_preset(name, !strcmp(kind, "phase") ? PAC_PHASE : PAC_AMPLITUDE, bands, &n, &err) != TP_OK) return mb_raise(&err);
    dims[0] = (npy_intp)n, dims[1] = 2;
    if (!(a = PyArray_SimpleNew(2, dims, NPY_FLOAT64))) return NULL;
    memcpy(PyArray_DATA((PyArrayObject *)a), bands, 2 * n * sizeof(double));
    return a;
}

/* ---- lnm: lesion network mapping over an HDF5 connectome (STAT_STREAM_USE_HDF5) --------------- */
#if defined(STAT_STREAM_USE_HDF5)

static PyObject *mb_h5_info(PyObject *self, PyObject *args)
{
    const char *path;
    ss_h5 *c = NULL;
    ss_h5_desc hd;
    tp_error err;
    PyObject *d = NULL, *ijk = NULL, *aff = NULL, *shape = NULL, *first = NULL;
    npy_intp dims[2];
    size_t f;
    int rc;
    (void)self;
    if (!PyArg_ParseTuple(args, "s", &path)) return NULL;
    memset(&hd, 0, sizeof hd);
    hd.path = path;
    Py_BEGIN_ALLOW_THREADS
    rc = ss_h5_create(&hd, &c, &err);
    Py_END_ALLOW_THREADS
    if (rc != TP_OK) return mb_raise(&err);
    dims[0] = 3, dims[1] = (npy_intp)ss_h5_voxels(c);
    if (!(ijk = PyArray_SimpleNew(2, dims, NPY_INT64))) goto done;
    memcpy(PyArray_DATA((PyArrayObject *)ijk), ss_h5_mask_indices(c), 3 * ss_h5_voxels(c) * sizeof(int64_t));
    dims[0] = dims[1] = 4;
    if (!(aff = PyArray_SimpleNew(2, dims, NPY_FLOAT64))) goto done;
    memcpy(PyArray_DATA((PyArrayObject *)aff), ss_h5_affine(c), 16 * sizeof(double));
    dims[0] = 3;
    if (!(shape = PyArray_SimpleNew(1, dims, NPY_INT64))) goto done;
    memcpy(PyArray_DATA((PyArrayObject *)shape), ss_h5_mask_shape(c), 3 * sizeof(int64_t));
    dims[0] = (npy_intp)ss_h5_files(c) + 1;
    if (!(first = PyArray_SimpleNew(1, dims, NPY_INT64))) goto done;
    for (f = 0; f <= ss_h5_files(c); f++) ((int64_t *)PyArray_DATA((PyArrayObject *)first))[f] = (int64_t)ss_h5_file_first(c, f);
    d = Py_BuildValue("{s:n,s:n,s:n,s:O,s:O,s:O,s:O}", "n_subjects", (Py_ssize_t)ss_h5_subjects(c), "n_timepoints",
                      (Py_ssize_t)ss_h5_timepoints(c), "n_voxels", (Py_ssize_t)ss_h5_voxels(c), "mask_indices", ijk,
                      "affine", aff, "mask_shape", shape, "file_first", first);
done:
    Py_XDECREF(ijk), Py_XDECREF(aff), Py_XDECREF(shape), Py_XDECREF(first);
    ss_h5_destroy(c);
    return d;
}

/* subjects first .. first + n - 1 of the connectome */
typedef struct mb_range { ss_h5 *c; size_t first; } mb_range;
static const float *mb_range_view(void *user, size_t k, tp_error *err)
{
    mb_range *r = (mb_range *)user;
    return ss_h5_view(r->c, r->first + k, err);
}

/* lacuna's PINI per file: each subject's rows, the kept voxels, the file's run with them, the
   files' accumulators merged into *st */
static tp_result mb_lnm_pini(const ss_lnm_desc *d0, ss_h5 *c, double percentile, ss_lnm_state *st, ss_lnm_info *info,
                             tp_error *err)
{
    const ss_seeds *seeds = d0->seeds;
    size_t L = seeds->n_seeds, n_all = seeds->offsets[L], f, k, most = 0, n_files = ss_h5_files(c);
    size_t *koff = (size_t *)malloc((L + 1) * sizeof(size_t));
    int64_t *kvox = (int64_t *)malloc((n_all ? n_all : 1) * sizeof(int64_t));
    double *rows;
    tp_result rc = TP_OK;
    for (f = 0; f < n_files; f++) {
        size_t n = ss_h5_file_first(c, f + 1) - ss_h5_file_first(c, f);
        most = n > most ? n : most;
    }
    rows = (double *)malloc((most ? most : 1) * (n_all ? n_all : 1) * sizeof(double));
    if (!koff || !kvox || !rows) rc = tp_error_set(err, TP_ERR_NOMEM, "lnm: out of memory for the PINI rows");
    for (f = 0; f < n_files && rc == TP_OK; f++) {
        size_t a = ss_h5_file_first(c, f), b = ss_h5_file_first(c, f + 1);
        ss_lnm_desc d = *d0;
        ss_lnm_maps none;
        ss_lnm_info part_info;
        ss_lnm_state part = {NULL, NULL};
        ss_seeds kept;
        mb_range r;
        for (k = a; k < b && rc == TP_OK; k++) {
            const float *ts = ss_h5_view(c, k, err);
            if (!ts) rc = err->code ? err->code : TP_ERR_IO;
            else rc = ss_pini_row(d0->pool, ts, d0->n_t, d0->n_v, d0->n_v, seeds, rows + (k - a) * n_all, err);
        }
        if (rc != TP_OK ||
            (rc = ss_pini_select(d0->pool, rows, b - a, n_all, seeds, percentile, kvox, koff, NULL, err)) != TP_OK)
            break;
        memset(&kept, 0, sizeof kept);
        kept.n_seeds = L, kept.voxels = kvox, kept.offsets = koff;
        r.c = c, r.first = a;
        d.seeds = &kept, d.view = mb_range_view, d.read = NULL, d.source_user = &r, d.n_subjects = b - a;
        memset(&none, 0, sizeof none);
        memset(&part_info, 0, sizeof part_info);
        none.info = &part_info;
        if ((rc = ss_lnm(&d, &none, st->z ? &part : st, err)) != TP_OK) break;
        info->n_subjects_bad_voxel += part_info.n_subjects_bad_voxel, info->n_subjects_bad_seed += part_info.n_subjects_bad_seed;
        if (part.z && (rc = ss_moments_merge(st->z, part.z, err)) == TP_OK) rc = ss_moments_merge(st->r, part.r, err);
        ss_moments_destroy(part.z);
        ss_moments_destroy(part.r);
    }
    free(koff), free(kvox), free(rows);
    return rc;
}

static PyObject *mb_lnm(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kw[] = {"connectome", "voxels", "offsets", "weights", "policy", "precision", "n_threads", "pini",
                         "pini_percentile", "progress", "pool", NULL};
    const char *path;
    PyObject *vox_o, *off_o, *w_o = Py_None, *progress = Py_None, *pool_o = Py_None, *res = NULL, *maps[6] = {NULL};
    PyArrayObject *vox = NULL, *off = NULL, *w = NULL;
    int policy = 0, precision = 0, n_threads = 0, pini = 0, rc = TP_OK;
    double percentile = SS_PINI_PERCENTILE;
    size_t *offsets = NULL, L, l, i;
    ss_h5 *c = NULL;
    ss_h5_desc hd;
    ss_seeds seeds;
    ss_lnm_desc d;
    ss_lnm_maps m;
    ss_lnm_info info;
    ss_lnm_state st = {NULL, NULL};
    mb_pac_user u;
    tp_error err;
    npy_intp dims[2];
    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "sOO|OiiipdOO", kw, &path, &vox_o, &off_o, &w_o, &policy, &precision,
                                     &n_threads, &pini, &percentile, &progress, &pool_o))
        return NULL;
    memset(&d, 0, sizeof d), memset(&m, 0, sizeof m), memset(&info, 0, sizeof info), memset(&u, 0, sizeof u);
    memset(&seeds, 0, sizeof seeds), memset(&hd, 0, sizeof hd);
    if (!mb_pool_arg(pool_o, &d.pool)) return NULL;
    if (progress != Py_None && !PyCallable_Check(progress)) return PyErr_Format(PyExc_TypeError, "progress must be callable");
    if (!(vox = (PyArrayObject *)PyArray_FROMANY(vox_o, NPY_INT64, 1, 1, NPY_ARRAY_IN_ARRAY)) ||
        !(off = (PyArrayObject *)PyArray_FROMANY(off_o, NPY_INT64, 1, 1, NPY_ARRAY_IN_ARRAY)))
        goto done;
    if (w_o != Py_None && !(w = (PyArrayObject *)PyArray_FROMANY(w_o, NPY_FLOAT64, 1, 1, NPY_ARRAY_IN_ARRAY))) goto done;
    L = (size_t)PyArray_DIM(off, 0) - (PyArray_DIM(off, 0) > 0);
    if (!L || (w && PyArray_DIM(w, 0) != PyArray_DIM(vox, 0))) { PyErr_Format(mb_arg_error, "lnm: no lesion, or weights unaligned"); goto done; }
    if (!(offsets = (size_t *)malloc((L + 1) * sizeof(size_t)))) { PyErr_NoMemory(); goto done; }
    for (l = 0; l <= L; l++) {
        int64_t v = ((const int64_t *)PyArray_DATA(off))[l];
        if (v < 0 || v > PyArray_DIM(vox, 0)) { PyErr_Format(mb_arg_error, "lnm: offsets outside the voxel list"); goto done; }
        offsets[l] = (size_t)v;
    }
    seeds.n_seeds = L, seeds.voxels = (const int64_t *)PyArray_DATA(vox), seeds.offsets = offsets;
    seeds.weights = w ? (const double *)PyArray_DATA(w) : NULL;
    hd.path = path;
    hd.pool = d.pool;
    u.progress.fn = progress == Py_None ? NULL : progress;
    Py_BEGIN_ALLOW_THREADS
    rc = ss_h5_create(&hd, &c, &err);
    Py_END_ALLOW_THREADS
    if (rc != TP_OK) { mb_raise(&err); goto done; }
    dims[0] = (npy_intp)L, dims[1] = (npy_intp)ss_h5_voxels(c);
    for (i = 0; i < 6; i++)
        if (!(maps[i] = PyArray_SimpleNew(2, dims, NPY_FLOAT64))) goto done;
    m.mean_z = (double *)PyArray_DATA((PyArrayObject *)maps[0]), m.mean_r = (double *)PyArray_DATA((PyArrayObject *)maps[1]);
    m.avg_r = (double *)PyArray_DATA((PyArrayObject *)maps[2]), m.std_z = (double *)PyArray_DATA((PyArrayObject *)maps[3]);
    m.t = (double *)PyArray_DATA((PyArrayObject *)maps[4]), m.p = (double *)PyArray_DATA((PyArrayObject *)maps[5]);
    m.info = &info;
    d.n_subjects = ss_h5_subjects(c), d.n_t = ss_h5_timepoints(c), d.n_v = ss_h5_voxels(c);
    d.view = ss_h5_view, d.source_user = c, d.seeds = &seeds, d.policy = (ss_policy)policy;
    d.precision = precision ? TP_F64 : TP_F32, d.n_threads = n_threads;
    if (u.progress.fn) d.progress = mb_pac_progress, d.user = &u;
    Py_BEGIN_ALLOW_THREADS
    if (!pini) rc = ss_lnm(&d, &m, NULL, &err);
    else {
        d.progress = NULL; /* per file runs: no whole-run progress */
        rc = mb_lnm_pini(&d, c, percentile, &st, &info, &err);
        if (rc == TP_OK) rc = ss_lnm_finalize(st.z, st.r, d.policy, &m, &err);
    }
    Py_END_ALLOW_THREADS
    if (mb_progress_restore(&u.progress)) goto done;
    if (rc != TP_OK) { mb_raise(&err); goto done; }
    res = Py_BuildValue("{s:O,s:O,s:O,s:O,s:O,s:O,s:n,s:n,s:n}", "mean_z", maps[0], "mean_r", maps[1], "avg_r", maps[2],
                        "std_z", maps[3], "t", maps[4], "p", maps[5], "n_subjects", (Py_ssize_t)d.n_subjects,
                        "n_subjects_bad_voxel", (Py_ssize_t)info.n_subjects_bad_voxel, "n_subjects_bad_seed",
                        (Py_ssize_t)info.n_subjects_bad_seed);
done:
    for (i = 0; i < 6; i++) Py_XDECREF(maps[i]);
    ss_moments_destroy(st.z);
    ss_moments_destroy(st.r);
    ss_h5_destroy(c);
    free(offsets);
    Py_XDECREF(vox), Py_XDECREF(off), Py_XDECREF(w);
    return res;
}
#endif

/* ---- the module ------------------------------------------------------------------------------ */

static PyMethodDef mb_methods[] = {
    {"memory_info", mb_memory_info, METH_NOARGS, "The memory this process may use (meminfo and cgroup limits)."},
    {"build_info", mb_build_info, METH_NOARGS, "Each header's build line (version, vector width, backends)."},
    {"prominence", (PyCFunction)(void (*)(void))mb_prominence, METH_VARARGS | METH_KEYWORDS,
     "prominence(posterior, alphas=None, connectivity=8, mode='exact', periodic=None, valleys=False, "
     "min_prominence=0.0, n_threads=0, *, progress=None, pool=None)"},
    {"pac", (PyCFunction)(void (*)(void))mb_pac, METH_VARARGS | METH_KEYWORDS,
     "pac(x, fs, pha_bands, amp_bands, measure=2, surrogates=0, norm=0, n_perm=0, cuts=None, pairs=None, mi_form=2, "
     "n_bins=18, dcomplex=0, width=7, pha_cycles=3, amp_cycles=6, edges=0, x_amp=None, mcp=0, p=0.05, n_threads=0, "
     "keep_surrogates=True, progress=None, pool=None, binned=False, pha=None, amp=None) -> dict(pac, norm, pvalues, "
     "surrogates): pacgpu's pac_run, or pac_fit on pha and amp (n_bands, n_epochs, n_times) when x is None"},
    {"erpac", (PyCFunction)(void (*)(void))mb_erpac, METH_VARARGS | METH_KEYWORDS,
     "erpac(x, fs, pha_bands, amp_bands, method=0, smooth=0, n_perm=0, pairs=None, p=0.05, mcp=1, ..., pha=None, amp=None) "
     "keep_surrogates=False -> (erpac, pvalues, surrogates): pac_erpac, or pac_erpac_fit on pha and amp when x is None"},
    {"tensorpac_draws", mb_tensorpac_draws, METH_VARARGS,
     "tensorpac_draws(kind, n_perm, random_state, n_times, n_epochs): numpy RandomState(random_state + k)'s cuts or "
     "permutations, as tensorpac draws its surrogates"},
#if defined(STAT_STREAM_USE_HDF5)
    {"h5_info", mb_h5_info, METH_VARARGS, "h5_info(path): a connectome's sizes, mask, affine, grid and files"},
    {"lnm", (PyCFunction)(void (*)(void))mb_lnm, METH_VARARGS | METH_KEYWORDS,
     "lnm(connectome, voxels, offsets, weights=None, policy=0, precision=0, n_threads=0, pini=False, "
     "pini_percentile=20, progress=None, pool=None) -> maps (n_lesions, n_voxels)"},
#endif
    {"band_preset", mb_band_preset, METH_VARARGS, "band_preset(name, kind): tensorpac's preset bands, (n, 2)"},
    {"bandpass", mb_bandpass, METH_VARARGS,
     "bandpass(x, fs, bands, cycles, what, width=0): pacgpu's pac_bandpass, or pac_wavelet when width > 0, "
     "(n_bands, n_signals, n_times)"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef mb_module = {PyModuleDef_HEAD_INIT, "_membound", "The C side of membound.", -1, mb_methods,
                                       NULL, NULL, NULL, NULL};

/* membound.NAME deriving from Error and builtin base */
static PyObject *mb_new_error(PyObject *mod, const char *name, PyObject *base, const char *doc)
{
    char full[64];
    PyObject *bases = base ? PyTuple_Pack(2, mb_error, base) : PyTuple_Pack(1, mb_error), *cls;
    if (!bases) return NULL;
    snprintf(full, sizeof full, "membound.%s", name);
    cls = PyErr_NewExceptionWithDoc(full, doc, bases, NULL);
    Py_DECREF(bases);
    if (cls && PyModule_AddObject(mod, name, cls) < 0) return NULL;
    Py_XINCREF(cls); /* the module took one reference; the static keeps another */
    return cls;
}

PyMODINIT_FUNC PyInit__membound(void)
{
    PyObject *m;
    import_array();
    if (PyType_Ready(&PoolType) < 0) return NULL;
    if (!(m = PyModule_Create(&mb_module))) return NULL;
    Py_INCREF(&PoolType);
    if (PyModule_AddObject(m, "Pool", (PyObject *)&PoolType) < 0) return NULL;
    if (!(mb_error = PyErr_NewExceptionWithDoc("membound.Error", "A membound header reported an error.", NULL, NULL)))
        return NULL;
    Py_INCREF(mb_error);
    if (PyModule_AddObject(m, "Error", mb_error) < 0) return NULL;
    if (!(mb_arg_error = mb_new_error(m, "ArgumentError", PyExc_ValueError, "A bad argument (the message names it).")) ||
        !(mb_nomem_error = mb_new_error(m, "NoMemoryError", PyExc_MemoryError, "The system refused memory.")) ||
        !(mb_budget_error = mb_new_error(m, "BudgetError", PyExc_MemoryError, "The pool's budget would be exceeded.")) ||
        !(mb_io_error = mb_new_error(m, "FileError", PyExc_OSError, "A file could not be read, written or mapped.")) ||
        !(mb_format_error = mb_new_error(m, "FormatError", PyExc_ValueError, "A malformed file or state.")) ||
        !(mb_cancelled_error = mb_new_error(m, "CancelledError", NULL, "The progress callable asked to stop.")) ||
        !(mb_device_error = mb_new_error(m, "DeviceError", PyExc_RuntimeError, "No accelerator, or a failed call.")) ||
        !(mb_unsupported_error = mb_new_error(m, "UnsupportedError", NULL, "Not in this build.")))
        return NULL;
    return m;
}
