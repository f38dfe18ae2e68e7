"""What the keywords plugin contributes to sciarch: keyword spotting models, data, recipes, commands.

Kept light: specs name code by string; nothing here imports torch or torchaudio.
"""

import sciarch

sciarch_extra = "audio"  # the host checks it at every load
sciarch.require_extra(sciarch_extra)

from sciarch import DatasetSpec, ModelSpec, RecipeSpec, TaskSpec, hookimpl  # noqa: E402

PACKAGE = "sciarch_keywords"
COUCKE = ("Coucke et al. 2019, Efficient keyword spotting using dilated convolutions and gating, "
          "ICASSP, arXiv:1811.07684")
RESULTS = "benchmarks/results/keywords_accuracy_epyc.json"
WARDEN = "Warden 2018, Speech Commands: A dataset for limited-vocabulary speech recognition, arXiv:1804.03209"


@hookimpl
def sciarch_models():
    return [
        ModelSpec(name="wavenet", builder=f"{PACKAGE}.wavenet:wavenet_kws", task="keyword spotting (frame level)",
                  summary="gated dilated causal CNN with residual and skip paths over log-mel (or PCEN, or a frozen "
                          "speech embedding); streams hop by hop",
                  paper=COUCKE),
        ModelSpec(name="tc-resnet", builder=f"{PACKAGE}.tc_resnet:tc_resnet", task="keyword spotting (clip)",
                  summary="temporal-convolution ResNet (TC-ResNet8) over log-mel; a clip classifier baseline",
                  paper="Choi et al. 2019, Temporal Convolution for Real-time Keyword Spotting on Mobile Devices, "
                        "arXiv:1904.03814"),
    ]


@hookimpl
def sciarch_datasets():
    return [
        DatasetSpec(name="tts-commands", builder=f"{PACKAGE}.data:TTSCommandsData", embedded=True,
                    source="embedded: synthesised with eSpeak NG from the espeakng-loader wheel, no download",
                    formats=("Speech Commands layout (WAV)",), license="generated (eSpeak NG is GPL-3.0)",
                    citation=WARDEN,
                    summary="keywords and other words spoken by eSpeak NG voices, split by voice, with noise"),
        DatasetSpec(name="speech-commands", builder=f"{PACKAGE}.data:SpeechCommandsData",
                    source="download speech_commands_v0.02.tar.gz (or v0.01) from download.tensorflow.org, unpack, "
                           "and pass --set data.args.path=DIR",
                    formats=("Speech Commands layout (WAV)", "16-bit PCM WAV"), license="CC BY 4.0",
                    citation=WARDEN,
                    summary="a Speech Commands copy (v0.01/v0.02): 12-class or all-word tasks"),
    ]


@hookimpl
def sciarch_tasks():
    return [TaskSpec(name="spotting", builder=f"{PACKAGE}.task:KeywordSpotting",
                     predictor=f"{PACKAGE}.listen:predict", metrics=("acc", "frr_at_1fa_per_h"),
                     summary="clip classification or end-of-keyword detection; accuracy, confusion, DET")]


@hookimpl
def sciarch_recipes():
    return [
        RecipeSpec(name="tts-12", resource=f"{PACKAGE}:recipes/tts-12.yaml", trains_on="keywords/tts-commands",
                   summary="WaveNet KWS on the synthesised corpus, 12 classes, tested on held-out voices",
                   expected=(("test/acc", "0.993 (clean clips, unheard voices, 30 epochs)", RESULTS),
                             ("test/acc at 10 dB SNR", "0.892", RESULTS),
                             ("FRR at 1 FA/h, 1 h continuous", "0.414", RESULTS))),
        RecipeSpec(name="tts-12-tc-resnet", resource=f"{PACKAGE}:recipes/tts-12-tc-resnet.yaml",
                   trains_on="keywords/tts-commands",
                   summary="the TC-ResNet8 baseline on the synthesised corpus, 12 classes"),
        RecipeSpec(name="tts-12-embedding", resource=f"{PACKAGE}:recipes/tts-12-embedding.yaml",
                   trains_on="keywords/tts-commands",
                   summary="a WaveNet head over a frozen speech embedding (needs `pip install --no-deps "
                           "openwakeword==0.5.1`; its model files are CC BY-NC-SA 4.0)",
                   expected=(("real keywords right in context (PocketSphinx check)", "4/6 (log-mel 0/6), 4 epochs",
                              "benchmarks/results/keywords_frontends.json"),
                             ("test/acc", "0.868 (clean clips, unheard voices)",
                              "benchmarks/results/keywords_frontends.json"))),
        RecipeSpec(name="speech-commands-12", resource=f"{PACKAGE}:recipes/speech-commands-12.yaml",
                   trains_on="keywords/speech-commands",
                   summary="WaveNet KWS on your Speech Commands copy, 12 classes (--set data.args.path=DIR)"),
        RecipeSpec(name="speech-commands-35", resource=f"{PACKAGE}:recipes/speech-commands-35.yaml",
                   trains_on="keywords/speech-commands",
                   summary="WaveNet KWS on your Speech Commands v0.02 copy, all 35 words (--set data.args.path=DIR)"),
    ]


@hookimpl
def sciarch_add_commands(cli):
    from .cli import keywords

    cli.add_command(keywords)
