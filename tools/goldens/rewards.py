#!/usr/bin/env python3
"""Goldens for the Swift reward models (Tests/RewardsTests): open_clip CLIP (HPS-v2.1, CLIP score), transformers
CLIPModel (PickScore, CLIP score), the LAION aesthetic head, and the image preprocessing of each reference pipeline.

    scripts/tools-env.sh python3 tools/goldens/rewards.py

Writes Tests/TestSupport/Fixtures/rewards/ (seeded, tiny random configs; fp32 weights, float64 reference forward):

openclip_tiny.json            open_clip model config in the model_configs/*.json schema (embed 16; vision 48 px, patch
                              8, 2 blocks × width 16, head width 8; text 77 tokens, vocab 571, 2 blocks × 16, 2 heads;
                              exact GELU)
openclip_tiny_quickgelu.json  the same with "quick_gelu": true (the same weights load into both)
openclip_wrong_size.json      3 vision blocks: loading the weights above must fail naming the file
open_clip_pytorch_model.safetensors / .bin   base weights A (open_clip state-dict keys; .bin = torch.save(state_dict))
hps_tiny.safetensors          HPS weights B = A fine-tuned (perturbed), keys prefixed `module.`
hps_tiny.pt                   torch.save({'state_dict': {'module.<key>': …}}) of B, the form HPS_v2.1_compressed.pt has
pickscore_tiny/               transformers CLIPModel folder (save_pretrained + pytorch_model.bin), tokenizer/ (the
                              571-token BPE of flux_mini), preprocessor_config.json (CLIPImageProcessor, 48 px)
aesthetic_tiny.safetensors / .pth   the DDPO aesthetic MLP layout scaled down: layers.{0,2,4,6,7} 16→32→16→8→4→1
images/*.png                  four RGB test images (160×120, 97×131, 30×40, 250×70): quantised noise over gradients
rewards.safetensors           everything computed:
  pre.<image>.openclip        [48, 48, 3] uint8: open_clip image_transform(48) before ToTensor (PIL resize + crop)
  pre.<image>.clipprocessor   [48, 48, 3] uint8: transformers CLIPImageProcessorPil resize + crop, before rescale
  pre.<image>.hps             [48, 48, 3] float32 in [0,1]: DanceGRPO's HPS transform before Normalize (ToTensor,
                              longest side to 48 with torchvision antialiased bicubic on floats, zero pad)
  pre.<first image>.hps_normalized, .clipprocessor_normalized   [48, 48, 3] float32 after Normalize (the model
                              inputs; for the other images the tests normalise the stored values)
  pre224.big.openclip / .hps  rows and columns 80..<144 of the [224, 224, 3] results for images/big.png (720×540):
                              the real size, downscale factor 2.4
  openclip.text_ids           [3, 77] int32 (flux_mini tokenizer ids, open_clip padding: 0, EOT kept on truncation)
  openclip.<A|B|B_quickgelu>.image_features / text_features   [4|3, 16] not normalised (encode_image/encode_text)
  openclip.B.logits           [4, 3] logit_scale.exp() · normalised image @ normalised text (get_logits)
  hps.scores                  [3] diagonal of normalised image_features @ text_features.T for images 0..2 with
                              prompts 0..2 (B weights, HPS pixels), no logit scale
  clip.input_ids/attention_mask  [3, L] the PickScore processor's padding=True ids
  clip.image_embeds/text_embeds  [4|3, 16] get_image_features / get_text_features (not normalised)
  clip.logits_per_image       [4, 3]
  pickscore.scores            [3] cosine of image i with prompt i, no logit scale
  aesthetic.embeddings        [4, 16] normalised CLIP image embeddings (clipprocessor pixels); aesthetic.scores [4]
metadata: prompts (JSON), images (JSON), versions.
"""
import json
import os
import shutil
import sys

sys.path = [p for p in sys.path if os.path.abspath(p or os.curdir) != os.path.dirname(os.path.abspath(__file__))]

import numpy as np  # noqa: E402
import open_clip  # noqa: E402
import PIL  # noqa: E402
import torch  # noqa: E402
import torchvision  # noqa: E402
import torchvision.transforms.functional as TF  # noqa: E402
import transformers  # noqa: E402
from PIL import Image  # noqa: E402
from safetensors.torch import save_file  # noqa: E402
from torchvision.transforms import InterpolationMode  # noqa: E402
from transformers import CLIPConfig, CLIPModel, CLIPTokenizer  # noqa: E402
from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
FIXTURES = os.path.join(ROOT, "Tests", "TestSupport", "Fixtures")
OUT = os.path.join(FIXTURES, "rewards")
VERSIONS = {"torch": torch.__version__, "transformers": transformers.__version__, "open_clip": open_clip.__version__,
            "torchvision": torchvision.__version__, "pillow": PIL.__version__}
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)
SIZE = 48
PROMPTS = ["a red circle", "two blue squares left of a green triangle", "a photo of a cat"]

OPENCLIP_CFG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": SIZE, "layers": 2, "width": 16, "head_width": 8, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 571, "width": 16, "heads": 2, "layers": 2},
}


def f32(t):
    t = t.detach().contiguous()
    return t.float() if t.is_floating_point() else t.to(torch.int32)


def perturb(module, scale=0.05):
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() == 1 and ("ln" in name or "norm" in name) and name.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif p.dim() <= 1:
                p.add_(0.1 * torch.randn_like(p))
            else:
                p.add_(scale * torch.randn_like(p))


def make_images():
    rng = np.random.default_rng(0)
    os.makedirs(os.path.join(OUT, "images"), exist_ok=True)
    names = []
    for name, (w, h) in [("wide_down", (160, 120)), ("odd", (97, 131)), ("small_up", (30, 40)), ("banner", (250, 70))]:
        y, x = np.mgrid[0:h, 0:w]
        base = np.stack([x / w * 255, y / h * 255, (x + y) / (w + h) * 255], -1)
        noise = rng.integers(-4, 5, size=(h, w, 3)) * 16
        img = np.clip(base + noise, 0, 255).astype(np.uint8)
        img[h // 3: h // 2, w // 4: w // 2] = [250, 20, 30]  # a hard edge
        Image.fromarray(img).save(os.path.join(OUT, "images", f"{name}.png"), optimize=True)
        names.append(name)
    return names


def big_image():
    # 720×540 smooth image with hard edges (compresses well; the real downscale factor of 720 → 224 sized images).
    h, w = 540, 720
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(np.sin(x / 37) * 0.5 + 0.5) * 255, (np.cos(y / 23) * 0.5 + 0.5) * 255, ((x // 60 + y // 45) % 2) * 255], -1)
    img = img.astype(np.uint8)
    Image.fromarray(img).save(os.path.join(OUT, "images", "big.png"), optimize=True)
    return Image.open(os.path.join(OUT, "images", "big.png")).convert("RGB")


def hps_transform(img, size, normalize):
    """DanceGRPO's HPS preprocessing (HPSv2 image_transform(…, is_train=False, light_augmentation=True))."""
    t = TF.to_tensor(img.convert("RGB"))
    h, w = t.shape[1:]
    scale = size / float(max(h, w))
    if scale != 1.0:
        new = tuple(round(d * scale) for d in (h, w))
        t = TF.resize(t, list(new), InterpolationMode.BICUBIC, antialias=True)
        pad_h, pad_w = size - new[0], size - new[1]
        t = TF.pad(t, [pad_w // 2, pad_h // 2, pad_w - pad_w // 2, pad_h - pad_h // 2], fill=0)
    if normalize:
        t = TF.normalize(t, MEAN, STD)
    return t


def hwc(t):
    return t.permute(1, 2, 0).contiguous()


def main():
    os.makedirs(OUT, exist_ok=True)
    tensors = {}
    names = make_images()
    images = [Image.open(os.path.join(OUT, "images", f"{n}.png")).convert("RGB") for n in names]
    processor = CLIPImageProcessorPil(size={"shortest_edge": SIZE}, crop_size={"height": SIZE, "width": SIZE})

    # Preprocessing.
    hps_pixels, clip_pixels = [], []
    for name, img in zip(names, images):
        tf = open_clip.image_transform(SIZE, is_train=False)
        staged = img
        for step in tf.transforms[:2]:
            staged = step(staged)
        tensors[f"pre.{name}.openclip"] = torch.from_numpy(np.asarray(staged).copy()).to(torch.uint8)
        full = tf(img)
        manual = TF.normalize(TF.to_tensor(staged), MEAN, STD)
        assert torch.allclose(full, manual), name
        # transformers' CLIPImageProcessor (PIL backend): resize, crop; rescale + normalise.
        out = processor(images=img, return_tensors="pt", do_rescale=False, do_normalize=False)["pixel_values"][0]
        tensors[f"pre.{name}.clipprocessor"] = hwc(out).round().to(torch.uint8)
        normalized = processor(images=img, return_tensors="pt")["pixel_values"][0]
        if name == names[0]:
            tensors[f"pre.{name}.clipprocessor_normalized"] = f32(hwc(normalized))
        clip_pixels.append(normalized)
        tensors[f"pre.{name}.hps"] = f32(hwc(hps_transform(img, SIZE, normalize=False)))
        hps = hps_transform(img, SIZE, normalize=True)
        if name == names[0]:
            tensors[f"pre.{name}.hps_normalized"] = f32(hwc(hps))
        hps_pixels.append(hps)
    big = big_image()
    tf = open_clip.image_transform(224, is_train=False)
    staged = big
    for step in tf.transforms[:2]:
        staged = step(staged)
    # Only the central 64×64 of the 224×224 results are kept (fixture size).
    tensors["pre224.big.openclip"] = torch.from_numpy(np.asarray(staged)[80:144, 80:144].copy()).to(torch.uint8)
    tensors["pre224.big.hps"] = f32(hwc(hps_transform(big, 224, normalize=False))[80:144, 80:144])
    hps_pixels = torch.stack(hps_pixels)
    clip_pixels = torch.stack(clip_pixels)

    # Tokenizer: flux_mini's 571-token BPE (the real open_clip vocabulary would need a 49408-row embedding table).
    tokenizer_dir = os.path.join(FIXTURES, "flux_mini", "tokenizer")
    tokenizer = CLIPTokenizer.from_pretrained(tokenizer_dir)
    sot, eot = tokenizer.bos_token_id, tokenizer.eos_token_id
    ids = torch.zeros(len(PROMPTS), 77, dtype=torch.long)
    for i, p in enumerate(PROMPTS):
        body = tokenizer(p, add_special_tokens=False)["input_ids"][:75]
        row = [sot] + body + [eot]
        ids[i, :len(row)] = torch.tensor(row)
    tensors["openclip.text_ids"] = f32(ids)

    # open_clip models: base A, HPS B.
    for name, cfg in [("openclip_tiny", OPENCLIP_CFG), ("openclip_tiny_quickgelu", dict(OPENCLIP_CFG, quick_gelu=True)),
                      ("openclip_wrong_size", {**OPENCLIP_CFG, "vision_cfg": dict(OPENCLIP_CFG["vision_cfg"], layers=3)})]:
        with open(os.path.join(OUT, f"{name}.json"), "w") as f:
            json.dump(cfg, f, indent=4)
    torch.manual_seed(0)
    model = open_clip.model.CLIP(OPENCLIP_CFG["embed_dim"], OPENCLIP_CFG["vision_cfg"], OPENCLIP_CFG["text_cfg"]).eval()
    perturb(model)
    state_a = {k: v.clone() for k, v in model.state_dict().items()}
    perturb(model, scale=0.02)
    state_b = {k: v.clone() for k, v in model.state_dict().items()}
    assert "attn_mask" not in state_a
    save_file({k: f32(v) for k, v in state_a.items()}, os.path.join(OUT, "open_clip_pytorch_model.safetensors"))
    torch.save(state_a, os.path.join(OUT, "open_clip_pytorch_model.bin"))
    save_file({"module." + k: f32(v) for k, v in state_b.items()}, os.path.join(OUT, "hps_tiny.safetensors"))
    torch.save({"state_dict": {"module." + k: v for k, v in state_b.items()}}, os.path.join(OUT, "hps_tiny.pt"))

    def run_openclip(state, quick_gelu, tag):
        m = open_clip.model.CLIP(OPENCLIP_CFG["embed_dim"], OPENCLIP_CFG["vision_cfg"], OPENCLIP_CFG["text_cfg"],
                                 quick_gelu=quick_gelu).eval()
        m.load_state_dict(state)
        m = m.double()
        with torch.no_grad():
            img = m.encode_image(hps_pixels.double())
            txt = m.encode_text(ids)
            tensors[f"openclip.{tag}.image_features"] = f32(img)
            tensors[f"openclip.{tag}.text_features"] = f32(txt)
            logits, _ = m.get_logits(hps_pixels.double(), ids)
            tensors[f"openclip.{tag}.logits"] = f32(logits)
            out = m(hps_pixels[:3].double(), ids)  # DanceGRPO: outputs["image_features"] @ outputs["text_features"].T
            image_features, text_features = (out["image_features"], out["text_features"]) if isinstance(out, dict) else out[:2]
            return torch.diagonal(image_features @ text_features.T)
    run_openclip(state_a, False, "A")
    tensors["hps.scores"] = f32(run_openclip(state_b, False, "B"))
    run_openclip(state_b, True, "B_quickgelu")

    # transformers CLIPModel (PickScore / CLIP score / aesthetic's CLIP).
    vocab_size = len(tokenizer)
    text_cfg = dict(vocab_size=vocab_size, hidden_size=16, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                    max_position_embeddings=77, hidden_act="gelu", bos_token_id=sot, eos_token_id=eot, pad_token_id=eot)
    vision_cfg = dict(hidden_size=16, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=SIZE,
                      patch_size=8, hidden_act="gelu")
    torch.manual_seed(1)
    clip = CLIPModel(CLIPConfig(text_config=text_cfg, vision_config=vision_cfg, projection_dim=16)).eval()
    perturb(clip)
    folder = os.path.join(OUT, "pickscore_tiny")
    shutil.rmtree(folder, ignore_errors=True)
    clip.save_pretrained(folder)
    torch.save(clip.state_dict(), os.path.join(folder, "pytorch_model.bin"))
    # The Swift loader reads vocab.json + merges.txt (+ tokenizer_config.json); transformers 5's save_pretrained
    # writes only tokenizer.json, so the source files are copied.
    os.makedirs(os.path.join(folder, "tokenizer"))
    for name in ("vocab.json", "merges.txt", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(tokenizer_dir, name), os.path.join(folder, "tokenizer", name))
    processor.save_pretrained(folder)
    text = tokenizer(PROMPTS, padding=True, truncation=True, max_length=77, return_tensors="pt")
    tensors["clip.input_ids"] = f32(text["input_ids"])
    tensors["clip.attention_mask"] = f32(text["attention_mask"])
    c = clip.double()
    with torch.no_grad():
        image_embeds = c.visual_projection(c.vision_model(pixel_values=clip_pixels.double()).pooler_output)
        text_embeds = c.text_projection(c.text_model(input_ids=text["input_ids"], attention_mask=text["attention_mask"]).pooler_output)
        out = c(input_ids=text["input_ids"], attention_mask=text["attention_mask"], pixel_values=clip_pixels.double())
        assert torch.allclose(out.image_embeds, image_embeds / image_embeds.norm(dim=-1, keepdim=True))
    tensors["clip.image_embeds"] = f32(image_embeds)
    tensors["clip.text_embeds"] = f32(text_embeds)
    tensors["clip.logits_per_image"] = f32(out.logits_per_image)
    ie = image_embeds / torch.norm(image_embeds, dim=-1, keepdim=True)
    te = text_embeds / torch.norm(text_embeds, dim=-1, keepdim=True)
    tensors["pickscore.scores"] = f32((ie[:3] * te).sum(-1))

    # Aesthetic head (DDPO's MLP layout, scaled to projection_dim 16).
    torch.manual_seed(2)
    mlp = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.Dropout(0.2), torch.nn.Linear(32, 16), torch.nn.Dropout(0.2),
                              torch.nn.Linear(16, 8), torch.nn.Dropout(0.1), torch.nn.Linear(8, 4), torch.nn.Linear(4, 1)).eval()
    state = {"layers." + k: v for k, v in mlp.state_dict().items()}
    save_file({k: f32(v) for k, v in state.items()}, os.path.join(OUT, "aesthetic_tiny.safetensors"))
    torch.save(state, os.path.join(OUT, "aesthetic_tiny.pth"))
    with torch.no_grad():
        embed = image_embeds / torch.linalg.vector_norm(image_embeds, dim=-1, keepdim=True)
        scores = mlp.double()(embed).squeeze(1)
    tensors["aesthetic.embeddings"] = f32(embed)
    tensors["aesthetic.scores"] = f32(scores)

    save_file(tensors, os.path.join(OUT, "rewards.safetensors"),
              metadata={"prompts": json.dumps(PROMPTS), "images": json.dumps(names), **VERSIONS})
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print("wrote", OUT, f"{total / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
