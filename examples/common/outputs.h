/* outputs.h - the examples' output files, by the rules of DESIGN.md section 7: every output is
   declared before the computation (its directory made like `mkdir -p`, a file created there to
   prove it can be written), is written under a temporary name beside it, and gets its name only
   when the whole run succeeded (ex_outputs_commit). A run that fails, or is stopped by SIGINT,
   SIGTERM or SIGHUP, leaves no file that looks like a result. Two outputs of one run, or an output
   and an input, that are the same file are an error before any work. One ex_outputs at a time
   per process (the signal handler knows it). */
#ifndef EXAMPLES_OUTPUTS_H
#define EXAMPLES_OUTPUTS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EX_MAX_OUTPUTS 1024
#define EX_MAX_INPUTS 128

typedef struct ex_output {
    char *path;  /* as given */
    char *tmp;   /* where it is written until the commit */
    char *key;   /* its directory resolved, and its name: what collisions compare */
    int committed;
} ex_output;

typedef struct ex_outputs {
    ex_output item[EX_MAX_OUTPUTS];
    size_t n;
    char *inputs[EX_MAX_INPUTS]; /* resolved */
    size_t n_inputs;
} ex_outputs;

/* Starts an empty set and makes it the one the signal handler cleans up. */
void ex_outputs_init(ex_outputs *o);
/* An input of the run: no output may be this file. A path that does not resolve is ignored
   (its reader will say what is wrong with it). */
int ex_outputs_input(ex_outputs *o, const char *path, char *err, size_t cap);
/* Declares an output: makes its directory, refuses a directory, a file already declared or an
   input, creates the temporary file; returns its name (valid until the set is freed), or NULL
   with a message in err. */
const char *ex_outputs_add(ex_outputs *o, const char *path, char *err, size_t cap);
/* Gives every output its name; 0, or -1 with the first failure in err. */
int ex_outputs_commit(ex_outputs *o, char *err, size_t cap);
/* Removes the temporary files that are left and frees the set (after a commit: frees only). */
void ex_outputs_free(ex_outputs *o);
/* mkdir -p: 0, or -1 with the component that could not be made in err */
int ex_mkdir_p(const char *dir, char *err, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
