/* faster-whisper (CTranslate2) Whisper models: the model.bin reader and the converter into
 * whisper.cpp's ggml file (docs/whisper.md, "faster-whisper models").
 *
 * The reader (src/engine/ct2.c) parses a model.bin held in memory without copying: variables
 * point into the caller's buffer. The converter (src/engine/ct2_ggml.c) reads a model directory
 * (model.bin, vocabulary.txt|json or tokenizer.json, optional preprocessor_config.json) and
 * writes the equivalent ggml file: hyperparameters from the tensor shapes, the mel filters
 * computed (src/engine/mel.c), the vocabulary as raw token bytes, fused QKV split, every weight
 * as f16 (int8/int16 dequantised with their scales, bf16 and f32 narrowed), biases and norms f32.
 * Runs on the loader thread (the server) or in tools/ct2-to-ggml; no state is shared. */
#ifndef STT_CT2_H
#define STT_CT2_H

#include <stddef.h>
#include <stdint.h>

/* CTranslate2 dtype ids (include/ctranslate2/types.h). */
enum stt_ct2_dtype {
    STT_CT2_F32 = 0,
    STT_CT2_I8 = 1,
    STT_CT2_I16 = 2,
    STT_CT2_I32 = 3,
    STT_CT2_F16 = 4,
    STT_CT2_BF16 = 5,
};

#define STT_CT2_MAX_RANK 4

typedef struct {
    const char *name; /* NUL-terminated, inside the buffer */
    int rank;
    uint32_t dims[STT_CT2_MAX_RANK];
    int dtype;           /* enum stt_ct2_dtype */
    const uint8_t *data; /* inside the buffer; NULL for an alias (see target) */
    size_t nbytes;
    const char *target; /* an alias: the name of the variable it stands for; else NULL */
} stt_ct2_var_t;

typedef struct {
    uint32_t binary_version;
    const char *spec;  /* "WhisperSpec" */
    uint32_t revision; /* spec revision */
    stt_ct2_var_t *vars; /* variables, then aliases (target set); owned */
    size_t n_vars, n_aliases;
    void *map; /* the mapping stt_ct2_open made, or NULL */
    size_t map_len;
} stt_ct2_model_t;

/* Parses a model.bin image of len bytes (binary versions 4..6). Variables point into buf, which
 * must outlive the model. Returns 0, or STT_EPARSE / STT_EUNSUPPORTED with a one-line reason in
 * err (a truncated file, a size that does not match its shape and dtype, an unknown dtype...). */
int stt_ct2_parse(const uint8_t *buf, size_t len, stt_ct2_model_t *m, char *err, size_t errlen);
/* Maps path read-only and parses it (stt_ct2_parse). Returns 0, STT_ENOENT/STT_EIO, or the
 * parse error; err names the file. */
int stt_ct2_open(const char *path, stt_ct2_model_t *m, char *err, size_t errlen);
/* Frees the table and unmaps (idempotent, NULL-safe fields). */
void stt_ct2_close(stt_ct2_model_t *m);
/* The variable called name, an alias followed to its target; NULL if none. */
const stt_ct2_var_t *stt_ct2_find(const stt_ct2_model_t *m, const char *name);

/* What a conversion found. */
typedef struct {
    int n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer;
    int n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels;
    int n_words;        /* vocabulary entries written */
    int source_dtype;   /* the dtype of the attention weights (enum stt_ct2_dtype) */
    int n_tensors;      /* ggml tensors written */
} stt_ct2_info_t;

/* Converts the model directory dir into the ggml file out_path, written to a temporary file
 * beside it, flushed and renamed into place (a crash leaves no partial file under out_path).
 * info may be NULL. Returns 0, or an STT_E* code with one line in err. */
int stt_ct2_convert(const char *dir, const char *out_path, stt_ct2_info_t *info, char *err,
                    size_t errlen);

/* 1 if dir is a directory with a model.bin (a CTranslate2 model), else 0. */
int stt_ct2_is_model_dir(const char *dir);

/* The ggml file for the model directory dir inside cache_dir: cache_dir/ggml-ct2-<key>.bin, key
 * = SHA-256 over the model's source files (name, size, bytes). Converts when that file is
 * missing, reuses it otherwise; a stamp file beside it (size, mtime, inode of each source) skips
 * the hashing on later starts while the sources are unchanged. out gets the path (cap bytes);
 * *converted is set when this call converted. Returns 0 or STT_E* with one line in err. */
int stt_ct2_cached_ggml(const char *dir, const char *cache_dir, char *out, size_t cap,
                        int *converted, char *err, size_t errlen);

/* Looks a faster-whisper model name up in a Hugging Face hub cache (the layout faster-whisper
 * downloads into): name is a size ("tiny.en", "large-v3", "distil-large-v3", "turbo", ...) or a
 * repository id ("Systran/faster-whisper-small"). Each of the n roots is a hub cache directory
 * (models--ORG--NAME/snapshots/REV/); the revision is refs/main's, else the only or newest
 * snapshot. out gets the snapshot directory. Returns 0 if found, STT_ENOENT if not,
 * STT_EINVAL if name is neither a known size nor a repository id. */
int stt_ct2_hf_lookup(const char *name, const char *const *roots, int n_roots, char *out,
                      size_t cap);
/* The repository id faster-whisper downloads for a size name, or NULL if it is not one. */
const char *stt_ct2_repo_for_size(const char *name);

/* Whisper's mel filter bank (librosa.filters.mel(sr=16000, n_fft=400, n_mels), Slaney scale and
 * norm, float32), n_mels rows of 201 values, written to out (n_mels * 201 floats). */
void stt_mel_filters(int n_mels, float *out);

#endif /* STT_CT2_H */
