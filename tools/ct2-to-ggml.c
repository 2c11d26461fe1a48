/* ct2-to-ggml: converts a faster-whisper (CTranslate2) Whisper model directory into a
 * whisper.cpp ggml file, with the code the server uses (src/engine/ct2_ggml.c).
 *
 *   ct2-to-ggml DIR OUT.bin
 *
 * Exit status: 0 converted, 1 usage, 2 the model cannot be converted (one line says why). */
#include "stt/ct2.h"
#include "stt/error.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *dtype_name(int d)
{
    static const char *const names[] = {"float32", "int8", "int16", "int32", "float16",
                                        "bfloat16"};
    return d >= 0 && d <= 5 ? names[d] : "?";
}

int main(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fprintf(argc == 2 ? stdout : stderr,
                "usage: ct2-to-ggml MODEL_DIR OUT.bin\n"
                "Converts a faster-whisper (CTranslate2) Whisper directory (model.bin plus\n"
                "vocabulary.json|vocabulary.txt|tokenizer.json) into a whisper.cpp ggml file.\n");
        return argc == 2 ? 0 : 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    stt_ct2_info_t h;
    char err[1024];
    int rc = stt_ct2_convert(argv[1], argv[2], &h, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "ct2-to-ggml: error: %s\n", err);
        return 2;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("ct2-to-ggml: %s -> %s: %s weights, %d mels, vocab %d (%d words), width %d, "
           "%d+%d layers, %d heads, %d tensors, %.2f s\n",
           argv[1], argv[2], dtype_name(h.source_dtype), h.n_mels, h.n_vocab, h.n_words,
           h.n_audio_state, h.n_audio_layer, h.n_text_layer, h.n_audio_head, h.n_tensors, s);
    return 0;
}
