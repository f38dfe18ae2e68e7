"""Audio data sources: spoken keywords, background noise and long test recordings.

- :mod:`.speech_commands`: the Speech Commands folder layout (Warden 2018, v0.01 and v0.02): one
  folder per word of 1 s, 16 kHz WAV files, ``validation_list.txt``, ``testing_list.txt`` and
  ``_background_noise_/``; the 12-class setup (10 words + unknown + silence) and all words.
- :mod:`.tts`: the embedded default, no download: keywords and other words spoken by eSpeak NG
  (the library and voices ship in the ``espeakng-loader`` wheel), written in the same layout and
  split by voice, so test voices are never heard in training.
- :mod:`.noise`: white, pink and brown noise, babble of other words, and folders of real noise.
- :mod:`.continuous`: long recordings with keywords at known times among other words and noise,
  for false rejects against false alarms per hour.
- :mod:`.wav`: reading and writing WAV with ``soundfile`` (a wrong rate is resampled, a corrupt or
  empty file reported), and :mod:`.features`: log-mel features with ``torchaudio.transforms``.

Nothing here imports a plugin; heavy libraries are imported inside the functions that use them.
"""

SAMPLE_RATE = 16_000

#: The ten command words of the 12-class Speech Commands task (Warden 2018), in the usual order.
COMMANDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")

#: The other words of Speech Commands v0.02 (v0.01 lacks the last five).
OTHER_WORDS = ("bed", "bird", "cat", "dog", "eight", "five", "four", "happy", "house", "marvin", "nine",
               "one", "seven", "sheila", "six", "three", "tree", "two", "wow", "zero",
               "backward", "follow", "forward", "learn", "visual")

SILENCE = "_silence_"
UNKNOWN = "_unknown_"
BACKGROUND_NOISE_DIR = "_background_noise_"
