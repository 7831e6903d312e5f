#!/usr/bin/env python3
"""Reference token ids for the tokenizer tests (Tests/TokenizersTests).

Run from the package root (needs open_clip_torch, ftfy, transformers, sentencepiece, protobuf; see
tools/requirements.txt):

    scripts/tools-env.sh python tools/goldens/tokenizer_ids.py

It copies open_clip's CLIP merges file from the installed wheel, unchanged, to
Sources/Tokenizers/Resources/bpe_simple_vocab_16e6.txt.gz: the vocabulary bundled with the Tokenizers target (so that
HPS-v2.1 needs only its two checkpoint files), which the CLIP tests below load. It writes, under
Tests/TestSupport/Fixtures/tokenizers/:

- clip.json: a few hundred varied prompts (`clip_prompts()`), each with the ids of open_clip's `SimpleTokenizer`
  and of transformers' `CLIPTokenizer` built from vocab.json/merges.txt exported from the same merges file (as
  open_clip builds its vocabulary), both framed by the start/end tokens and not truncated; and a batch of prompts
  tokenized with padding to 77 and truncation by both libraries (ids and attention masks).
- t5/spiece.model: a small SentencePiece unigram model trained here on a built-in corpus (`t5_corpus()`), with the
  default "nmt_nfkc" normalization (the rule T5 uses), and t5.json: prompts with the ids of sentencepiece
  (`encode` + `</s>`) and of transformers' `T5Tokenizer` loaded from that file, plus a batch padded/truncated
  to a small max length.
- t5_rules/spiece.model and t5_rules/tokenizer.json: a second small model whose normalization is a short custom rule
  table (so that the transformers `tokenizer.json` export stays small), with its ids in t5.json too, and the ids of
  the same tokenizer.json rearranged into the older layout real T5 checkpoints ship (`legacy_layout_tokenizer`).

Everything is deterministic (fixed seeds, single-threaded training): rerunning gives the same files for the same
library versions (recorded in the JSON files).
"""
import gzip
import importlib.metadata
import json
import os
import random
import shutil
import tempfile

import ftfy
import ftfy.badness
import open_clip
import sentencepiece as spm
from open_clip.tokenizer import SimpleTokenizer, bytes_to_unicode
from tokenizers import Tokenizer
from transformers import CLIPTokenizer, T5Tokenizer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "TestSupport", "Fixtures", "tokenizers")
BUNDLED_BPE = os.path.join(ROOT, "Sources", "Tokenizers", "Resources", "bpe_simple_vocab_16e6.txt.gz")

VERSIONS = {
    name: importlib.metadata.version(name)
    for name in ["open_clip_torch", "ftfy", "transformers", "tokenizers", "sentencepiece"]
}

# --------------------------------------------------------------------------------------------------------------------
# Prompts

LONG_PROMPT = (
    "a highly detailed digital painting of an ancient castle on a cliff above a stormy sea at sunset, dramatic "
    "lighting, volumetric clouds, crashing waves, seagulls, a lone knight in silver armor holding a red banner, "
    "intricate stonework, ivy covered walls, lanterns glowing in the windows, cinematic composition, 8k, trending on "
    "artstation, by greg rutkowski and alphonse mucha, masterpiece, best quality, ultra sharp focus"
)

HAND_WRITTEN = [
    ("plain", "a photo of a cat"),
    ("plain", "A Photo Of A Cat Sitting On A Red Sofa"),
    ("plain", "an astronaut riding a horse on the moon, digital art"),
    ("plain", "portrait of a young woman with freckles, soft natural light, 85mm lens"),
    ("plain", "The quick brown fox jumps over the lazy dog"),
    ("plain", "isometric low poly island with palm trees and a tiny lighthouse"),
    ("plain", "watercolor illustration of a fox in a snowy forest"),
    ("plain", "a bowl of ramen with chopsticks, steam rising, close-up"),
    ("plain", "UPPERCASE PROMPT WITH SHOUTING WORDS"),
    ("plain", "mIxEd CaSe WoRdS"),
    ("punctuation", "Hello, world! How are you? I'm fine; thanks: (really) [yes] {no} <maybe>"),
    ("punctuation", "wow!!! ... ??? --- *** ### @@@ $$$ %%% ^^^ &&& ~~~"),
    ("punctuation", "path/to/file.png, user@example.com, https://example.com/a?b=c&d=e#frag"),
    ("punctuation", "snake_case and kebab-case and dot.case and back\\slash"),
    ("punctuation", "\"double quoted\" and 'single quoted' and `backticks`"),
    ("punctuation", "a,b;c:d.e!f?g"),
    ("punctuation", "!!!"),
    ("punctuation", "..."),
    ("contractions", "don't won't can't it's they're we've I'm you'll he'd"),
    ("contractions", "DON'T WON'T IT'S THEY'RE WE'VE I'M YOU'LL HE'D"),
    ("contractions", "''s '''t 'x 's 're'"),
    ("contractions", "rock'n'roll o'clock ma'am"),
    ("contractions", "'\u017f x \u017fs"),
    ("numbers", "1 12 123 1234 12345 3.14159 -42 +7 1e10 0x1F"),
    ("numbers", "in 2024, 50% of 1,000,000 people paid $9.99"),
    ("numbers", "\u00bd \u00bc \u00b2 \u00b3 \u2460 \u2461 \u2167 \u216b \u0663 \u0969 \u0e53"),
    ("numbers", "4k 8k 1080p 16:9 f/1.8 1/250s iso100"),
    ("accents", "caf\u00e9 na\u00efve r\u00e9sum\u00e9 fa\u00e7ade jalape\u00f1o \u00fcber se\u00f1or"),
    ("accents", "cafe\u0301 nai\u0308ve (decomposed accents)"),
    ("accents", "\u00c5ngstr\u00f6m \u00d8resund \u00c6sir \u0152uvre \u00df STRASSE \u1e9e"),
    ("accents", "\u0130stanbul \u0131\u015f\u0131k \u0130I\u0131i"),
    ("accents", "\u0141\u00f3d\u017a \u017b\u00f3\u0142w \u010cesk\u00fd Krumlov \u0218tefan"),
    ("greek", "\u039f\u0394\u039f\u03a3 \u03bf\u03b4\u03cc\u03c2 \u03a3 \u03a3\u03a3 \u0391\u03a3. \u0391\u03a3\u0391"),
    ("greek", "\u039a\u0391\u039b\u0397\u039c\u0395\u03a1\u0391 \u039a\u039f\u03a3\u039c\u0395"),
    ("cyrillic", "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u041a\u041e\u0422 "
                 "\u043d\u0430 \u0434\u0438\u0432\u0430\u043d\u0435"),
    ("cjk", "\u4e00\u53ea\u732b\u5750\u5728\u7ea2\u8272\u7684\u6c99\u53d1\u4e0a"),
    ("cjk", "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8 \u3072\u3089\u304c\u306a \u30ab\u30bf\u30ab\u30ca"),
    ("cjk", "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8 \uace0\uc591\uc774"),
    ("cjk", "cat \u732b neko \u306d\u3053 \uace0\uc591\uc774"),
    ("cjk", "\u3000\u5168\u89d2\u30b9\u30da\u30fc\u30b9\u3000"),
    ("scripts", "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645"),
    ("scripts", "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd"),
    ("scripts", "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e"),
    ("scripts", "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e0a\u0e32\u0e27\u0e42\u0e25\u0e01"),
    ("emoji", "a cat \U0001f431 and a dog \U0001f436"),
    ("emoji", "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 family"),
    ("emoji", "flags \U0001f1ef\U0001f1f5 \U0001f1eb\U0001f1f7 skin \U0001f44d\U0001f3fd keycap 1\ufe0f\u20e3"),
    ("emoji", "\u2764\ufe0f\u2764\u2b50\u2728\U0001f525\U0001f525\U0001f525"),
    ("symbols", "\u00a9 \u00ae \u2122 \u20ac \u00a3 \u00a5 \u00b0C \u00b1 \u00d7 \u00f7 "
                "\u2248 \u2260 \u221e \u221a \u2211"),
    ("symbols", "\u2192 \u2190 \u2191 \u2193 \u2605 \u2606 \u266a \u2660 \u2663 \u2665 \u2666"),
    ("quotes", "\u201ccurly double\u201d and \u2018curly single\u2019 and it\u2019s \u201equote\u201f"),
    ("quotes", "\u00abguillemets\u00bb \u2039single\u203a \u300cbrackets\u300d"),
    ("ligatures", "\ufb01sh \ufb02ower o\ufb00ice \ufb03x \ufb04 \ufb06 \u0132 \u01c6 \u01c9"),
    ("fullwidth", "\uff21\uff22\uff23 \uff41\uff42\uff43 \uff11\uff12\uff13 \uff01\uff1f \uff08\uff09 "
                  "\uff8a\uff9d\uff76\uff78"),
    ("html", "fish &amp; chips &lt;b&gt;bold&lt;/b&gt; &quot;quoted&quot; &#39;apos&#39;"),
    ("html", "&amp;amp; &amp;lt; &#x27; &#8217; &nbsp;space &copy; &eacute;t&eacute; &EACUTE; &AMP"),
    ("html", "&ampx &notit; &notin; &#128512; &#x1F600; &#0; &#x110000; &#65 &#x41 &bogus; &;"),
    ("html", "a < b &amp; c"),
    ("html", "5 &lt; 6 &gt; 4"),
    ("whitespace", "  leading and trailing spaces  "),
    ("whitespace", "tabs\tand\nnewlines\r\nand\rreturns"),
    ("whitespace", "multiple     spaces   between    words"),
    ("whitespace", "nbsp\u00a0em\u2003thin\u2009ideographic\u3000narrow\u202fline\u2028para\u2029nel\u0085end"),
    ("whitespace", "separators\x1c\x1d\x1e\x1fend \x0b\x0c"),
    ("whitespace", "zero\u200bwidth\u200cjoiner\u200dbom\ufeffword\u2060joiner"),
    ("whitespace", ""),
    ("whitespace", " "),
    ("whitespace", "   \t\n  "),
    ("controls", "bell\x07 backspace\x08 escape\x1b[31mred\x1b[0m del\x7f"),
    ("controls", "c1 \x93quoted\x94 \x85 \x80uro \x9f"),
    ("controls", "bidi \u202ertl\u202c \u200eltr \u2066iso\u2069 \u206adeprecated"),
    ("special", "<|startoftext|>a photo<|endoftext|>"),
    ("special", "<|STARTOFTEXT|> x <|ENDOFTEXT|>!"),
    ("special", "<start_of_text> a <end_of_text> <END_OF_TEXT>"),
    ("special", "!<|endoftext|>! <<|startoftext|>>"),
    ("special", "<|endoftext|><|endoftext|>"),
    ("special", "<\u017ftart_of_text> x"),
    ("long", LONG_PROMPT),
    ("long", " ".join(["word"] * 100)),
    ("long", "1" * 120),
    ("long", "!" * 300),
    ("long", "\U0001f600" * 60),
    ("long", "supercalifragilisticexpialidocious" * 8),
    ("mojibake", "caf\u00c3\u00a9 na\u00c3\u00afve"),
    ("mojibake", "\u00e2\u0080\u009cquoted\u00e2\u0080\u009d"),
]

# Code point pools for random prompts: well-established blocks only, so that the Unicode versions of Swift, Python
# and Rust agree on every character's category.
POOLS = {
    "ascii": [chr(c) for c in range(0x20, 0x7F)],
    "letters": list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ      "),
    "latin1": [chr(c) for c in range(0xA0, 0x100)],
    "latin_ext": [chr(c) for c in range(0x100, 0x250)],
    "combining": [chr(c) for c in range(0x300, 0x370)],
    "greek": [chr(c) for c in range(0x391, 0x3CA) if c != 0x3A2],
    "cyrillic": [chr(c) for c in range(0x410, 0x450)],
    "cjk": [chr(c) for c in range(0x4E00, 0x4E00 + 400)],
    "kana": [chr(c) for c in range(0x3041, 0x3097)] + [chr(c) for c in range(0x30A1, 0x30FB)],
    "hangul": [chr(c) for c in range(0xAC00, 0xAC00 + 300)],
    "arabic": [chr(c) for c in range(0x621, 0x64B)],
    "devanagari": [chr(c) for c in range(0x905, 0x94E)],
    "emoji": [chr(c) for c in range(0x1F600, 0x1F650)] + [chr(c) for c in range(0x1F300, 0x1F340)],
    "punct": list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\u2013\u2014\u2026\u00bf\u00a1\u00b7\u2022"),
    "digits": list("0123456789\u0660\u0661\u0966\u0967\u00b2\u00bd\u2160\u2461"),
    "spaces": [" ", " ", " ", "\t", "\n", "\u00a0", "\u3000", "\u2009"],
    "symbols": [chr(c) for c in range(0x2190, 0x21A0)] + [chr(c) for c in range(0x2600, 0x2640)],
}


def random_prompts(count, seed):
    rng = random.Random(seed)
    names = sorted(POOLS)
    prompts = []
    while len(prompts) < count:
        mix = rng.sample(names, rng.randint(1, 4))
        length = rng.randint(1, 40)
        text = "".join(rng.choice(POOLS[rng.choice(mix)]) for _ in range(length))
        # ftfy's mojibake repair is not reproduced (see TextFixer.swift): keep random text it would act on out.
        if ftfy.badness.is_bad(text):
            continue
        prompts.append(("random:" + "+".join(mix), text))
    return prompts


def clip_prompts():
    return HAND_WRITTEN + random_prompts(220, seed=0)


# --------------------------------------------------------------------------------------------------------------------
# CLIP


def export_vocab_and_merges(bpe_path, folder):
    """vocab.json + merges.txt in transformers' format, built from open_clip's merges file as open_clip does."""
    merges = gzip.open(bpe_path).read().decode("utf-8").split("\n")[1 : 49152 - 256 - 2 + 1]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(merge.split()) for merge in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump({token: i for i, token in enumerate(vocab)}, f, ensure_ascii=False)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "\n".join(merges) + "\n")


def write_clip():
    bpe_path = open_clip.tokenizer.default_bpe()
    shutil.copyfile(bpe_path, BUNDLED_BPE)
    open_clip_tokenizer = SimpleTokenizer(bpe_path)
    sot, eot = open_clip_tokenizer.sot_token_id, open_clip_tokenizer.eot_token_id
    with tempfile.TemporaryDirectory() as folder:
        export_vocab_and_merges(bpe_path, folder)
        hf = CLIPTokenizer.from_pretrained(folder)
    prompts = clip_prompts()
    entries = []
    for category, text in prompts:
        entries.append({
            "category": category,
            "text": text,
            "open_clip": [sot] + open_clip_tokenizer.encode(text) + [eot],
            "transformers": hf(text)["input_ids"],
        })
    batch_texts = [text for category, text in prompts if category in ("long", "plain", "special", "whitespace")]
    oc_rows = open_clip.tokenize(batch_texts, context_length=77).tolist()
    hf_batch = hf(batch_texts, padding="max_length", max_length=77, truncation=True)
    document = {
        "versions": VERSIONS,
        "prompts": entries,
        "batch": {
            "texts": batch_texts,
            "max_length": 77,
            "open_clip_ids": oc_rows,
            "transformers_ids": hf_batch["input_ids"],
            "transformers_attention_mask": hf_batch["attention_mask"],
        },
    }
    with open(os.path.join(OUT, "clip.json"), "w") as f:
        json.dump(document, f, separators=(",", ":"))
    same = sum(e["open_clip"] == e["transformers"] for e in entries)
    print(f"clip.json: {len(entries)} prompts ({same} where open_clip and transformers agree)")


# --------------------------------------------------------------------------------------------------------------------
# T5 (SentencePiece unigram)

SUBJECTS = ["cat", "dog", "fox", "horse", "robot", "astronaut", "castle", "city", "forest", "river", "mountain",
            "woman", "man", "child", "dragon", "bird", "flower", "car", "ship", "house", "tree", "lighthouse"]
ADJECTIVES = ["red", "blue", "green", "small", "large", "ancient", "futuristic", "beautiful", "dark", "bright",
              "snowy", "golden", "tiny", "giant", "happy", "quiet", "stormy", "colorful", "detailed", "realistic"]
PLACES = ["on the moon", "in a forest", "at sunset", "under the sea", "in the city", "on a hill", "in the snow",
          "near a lake", "in space", "at night", "in the rain", "on the beach"]
STYLES = ["digital art", "oil painting", "photograph", "watercolor", "3d render", "pencil sketch", "anime style",
          "cinematic lighting", "high resolution", "8k", "studio photo"]
WORDS = (
    "the of and to in is was he for it with as his on be at by had are but from or have an they which one you were her "
    "all she there would their we him been has when who will more no if out so said what up its about into than them "
    "can only other new some could time these two may then do first any my now such like our over man me even most "
    "made after also did many before must through back years where much your way well down should because each just "
    "those people how too little state good very make world still own see men work long get here between both life "
    "being under never day same another know while last might us great old year off come since against go came right "
    "used take three light painting portrait landscape sunrise evening morning shadow reflection window garden street "
    "market village harbor bridge tower temple palace desert jungle glacier volcano island canyon waterfall meadow "
    "butterfly elephant giraffe penguin octopus whale tiger rabbit squirrel owl wolf bear lion deer turtle dolphin "
    "orange purple yellow silver crimson violet emerald turquoise amber ivory charcoal pastel neon glowing shiny matte "
    "wooden metallic crystal glass marble velvet leather paper ceramic plastic stone concrete copper bronze"
).split()
EXTRA_LINES = [
    "caf\u00e9 na\u00efve r\u00e9sum\u00e9 fa\u00e7ade jalape\u00f1o \u00fcber",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8 \u4e00\u53ea\u732b",
    "\u03bf\u03b4\u03cc\u03c2 \u03ba\u03b1\u03bb\u03b7\u03bc\u03ad\u03c1\u03b1",
    "numbers 0 1 2 3 4 5 6 7 8 9 10 100 2024 3.14",
    "punctuation ! ? , . ; : ' \" ( ) [ ] - _ / & % $ # @ *",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
]


def t5_corpus():
    rng = random.Random(1)
    lines = []
    for _ in range(3000):
        line = f"a {rng.choice(ADJECTIVES)} {rng.choice(SUBJECTS)} {rng.choice(PLACES)}, {rng.choice(STYLES)}"
        if rng.random() < 0.3:
            line = line.capitalize()
        lines.append(line)
        lines.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12))))
    return lines + EXTRA_LINES * 20


# A short custom normalization table for the second model: fullwidth ASCII to ASCII, a few ligatures and spaces.
CUSTOM_RULES = (
    [(0xFF01 + i, [0x21 + i]) for i in range(94)]
    + [(0xFB01, [0x66, 0x69]), (0xFB02, [0x66, 0x6C]), (0x3000, [0x20]), (0x00A0, [0x20]), (0x2009, [0x20])]
)

T5_PROMPTS_EXTRA = [
    ("t5", "  a   red   fox  "),
    ("t5", "a\tb\nc\r\nd"),
    ("t5", "\u3000\u3000a\u3000b"),
    ("t5", "\u0416\u0416\u0416 unknown cyrillic then known words"),
    ("t5", "x \u0416\u0416 \u0416 y\u0416z"),
    ("t5", "</s> <pad> <unk> in the text"),
    ("t5", "<extra_id_0> masked <extra_id_1>"),
    ("t5", "\u2460\u2461\u2462 \u2474 \u33a1 \u2122 \u00bd"),
    ("t5", "\u00c5 A\u030a \u212b"),
    ("t5", "a" * 80),
]


def t5_prompts():
    # The CLIP prompts without the long ones (T5 tests use a small max length), plus T5-specific cases.
    return [p for p in HAND_WRITTEN if p[0] != "long"] + random_prompts(120, seed=1) + T5_PROMPTS_EXTRA


def train(folder, vocab_size, **options):
    """Trains in the current folder (relative paths: the model file records its input and rule file names)."""
    spm.SentencePieceTrainer.train(
        input="corpus.txt", model_prefix="spiece", vocab_size=vocab_size, model_type="unigram",
        character_coverage=1.0, pad_id=0, eos_id=1, unk_id=2, bos_id=-1, num_threads=1,
        shuffle_input_sentence=False, minloglevel=2, **options)
    os.makedirs(folder, exist_ok=True)
    shutil.move("spiece.model", os.path.join(folder, "spiece.model"))
    os.remove("spiece.vocab")
    return os.path.join(folder, "spiece.model")


def t5_entries(model_path, prompts):
    sp = spm.SentencePieceProcessor(model_file=model_path)
    with tempfile.TemporaryDirectory() as folder:
        shutil.copyfile(model_path, os.path.join(folder, "spiece.model"))
        hf = T5Tokenizer.from_pretrained(folder)
    entries = [{
        "category": category,
        "text": text,
        "sentencepiece": sp.encode(text) + [sp.eos_id()],
        "transformers": hf(text)["input_ids"],
    } for category, text in prompts]
    return entries, hf, sp.get_piece_size()


def legacy_layout_tokenizer(json_path):
    """The same tokenizer in the layout of older T5 tokenizer.json files (such as google/t5-v1_1-xxl's, which FLUX
    uses): runs of spaces collapsed by a Replace normalizer, and a Metaspace pre-tokenizer without WhitespaceSplit.
    The Swift test builds the same file from the committed one (T5TokenizerTests.legacyLayout)."""
    with open(json_path, encoding="utf-8") as f:
        data = json.load(f)
    data["normalizer"] = {"type": "Sequence", "normalizers": [
        data["normalizer"], {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]}
    data["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True}
    return Tokenizer.from_str(json.dumps(data))


def write_t5():
    with tempfile.TemporaryDirectory() as scratch:
        cwd = os.getcwd()
        os.chdir(scratch)
        try:
            with open("corpus.txt", "w", encoding="utf-8") as f:
                f.write("\n".join(t5_corpus()) + "\n")
            nfkc_model = train(os.path.join(OUT, "t5"), 400)
            with open("rules.tsv", "w") as f:
                for source, target in CUSTOM_RULES:
                    f.write("%X\t%s\n" % (source, " ".join("%X" % c for c in target)))
            rules_model = train(os.path.join(OUT, "t5_rules"), 300, normalization_rule_tsv="rules.tsv")
        finally:
            os.chdir(cwd)

    prompts = t5_prompts()
    nfkc_entries, hf, nfkc_pieces = t5_entries(nfkc_model, prompts)
    rules_entries, hf_rules, rules_pieces = t5_entries(rules_model, prompts)
    json_path = os.path.join(OUT, "t5_rules", "tokenizer.json")
    hf_rules.backend_tokenizer.save(json_path)
    legacy = legacy_layout_tokenizer(json_path)
    legacy_ids = [legacy.encode(text).ids for _, text in prompts]

    batch_texts = [text for category, text in prompts if category in ("plain", "whitespace", "t5")]
    max_length = 12
    batch = hf(batch_texts, padding="max_length", max_length=max_length, truncation=True)
    document = {
        "versions": VERSIONS,
        "nfkc": {"pieces": nfkc_pieces, "transformers_vocab_size": len(hf), "prompts": nfkc_entries},
        "rules": {"pieces": rules_pieces, "transformers_vocab_size": len(hf_rules), "prompts": rules_entries},
        "rules_legacy_layout_ids": legacy_ids,
        "batch": {
            "texts": batch_texts,
            "max_length": max_length,
            "transformers_ids": batch["input_ids"],
            "transformers_attention_mask": batch["attention_mask"],
        },
    }
    with open(os.path.join(OUT, "t5.json"), "w") as f:
        json.dump(document, f, separators=(",", ":"))
    for name, entries in [("nfkc", nfkc_entries), ("rules", rules_entries)]:
        same = sum(e["sentencepiece"] == e["transformers"] for e in entries)
        print(f"t5.json {name}: {len(entries)} prompts ({same} where sentencepiece and transformers agree)")


# --------------------------------------------------------------------------------------------------------------------


def main():
    os.makedirs(OUT, exist_ok=True)
    write_clip()
    write_t5()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print(f"fixtures in {os.path.relpath(OUT, ROOT)}: {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
