/* silero-to-ggml: converts the silero-vad package's silero_vad_16k.safetensors into whisper.cpp's
 * ggml VAD format, for users who want to run whisper.cpp's own VAD (whisper-cli --vad
 * --vad-model FILE) on the same weights stt-server's --vad silero uses. No PyTorch needed.
 *
 *   silero-to-ggml [--version 6.2.1] IN.safetensors OUT.bin
 *
 * Exit status 0, 2 for a usage error or a file that is not Silero VAD v6 (one line on stderr). */
#include "common/silero_ggml.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *version = "6.2.1";
    int i = 1;
    if (i + 1 < argc && strcmp(argv[i], "--version") == 0) {
        version = argv[i + 1];
        i += 2;
    }
    if (argc - i != 2) {
        fprintf(stderr, "usage: silero-to-ggml [--version 6.2.1] IN.safetensors OUT.bin\n");
        return 2;
    }
    char err[512];
    if (stt_silero_to_ggml(argv[i], argv[i + 1], version, err, sizeof(err)) != 0) {
        fprintf(stderr, "silero-to-ggml: %s\n", err);
        return 2;
    }
    return 0;
}
