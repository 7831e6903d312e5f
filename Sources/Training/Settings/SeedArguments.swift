import Foundation

/// DanceGRPO's training arguments (`fastvideo/train_grpo_*.py`) as config-file keys, mapped to ours, so a seed
/// launch script's arguments can be pasted into a `--config` file. The full table: docs/seed-arguments.md.
/// https://github.com/XueZeyue/DanceGRPO/blob/22b85efe5312089f07c027d5ba94db168656c9dc/fastvideo/train_grpo_flux.py
enum SeedArguments {
    /// Seed names whose value carries over unchanged to one of our settings.
    static let renamed: [String: String] = [
        "max_train_steps": "iterations",
        "train_batch_size": "promptsPerIteration",
        "adv_clip_max": "advantageClipMax",
        "bestofn": "bestOfN",
        "checkpointing_steps": "checkpointEvery",
        "checkpoints_total_limit": "checkpointsTotalLimit",
        "h": "height",
        "w": "width",
        "guidance": "fluxGuidance",
        "pretrained_model_name_or_path": "checkpoint",
        "output_dir": "outputDir",
        "use_same_noise": "initSameNoise",
        "cfg_infer": "guidanceScale",
        "lr_warmup_steps": "lrWarmupSteps",
        "lora_target_modules": "loraTargets",
        "gradient_checkpointing": "gradientCheckpointing",
        "sp_size": "spSize",
        "reference_model_path": "referenceCheckpoint"
    ]

    /// The families whose seed scripts train videos: their `--t` is `numFrames` (the image families' must be 1).
    static let videoFamilies: Set<String> = ["hunyuan-video", "skyreels-i2v"]

    /// Seed arguments about the PyTorch machinery (sharding, precision, data loading, logging) that do not change
    /// what is trained here: accepted, and reported as ignored.
    static let ignored: Set<String> = [
        "fsdp_sharding_startegy", "fsdp_sharding_strategy", "selective_checkpointing",
        "mixed_precision", "master_weight_type", "use_cpu_offload", "allow_tf32", "dataloader_num_workers",
        "train_sp_batch_size", "num_latent_t", "cache_dir", "logging_dir", "report_to",
        "tracker_project_name", "log_validation", "validation_prompt_dir", "validation_steps", "validation_guidance",
        "validation_sampling_steps", "num_height", "num_width", "num_frames", "ignore_last", "sampler_seed",
        "resume_from_checkpoint", "resume_from_lora_checkpoint", "scale_lr", "lr_num_cycles", "lr_power",
        "use_8bit_adam", "group_frame", "group_resolution", "dit_model_name_or_path", "vae_model_path",
        "model_type", "num_euler_timesteps", "not_apply_cfg_solver", "multi_phased_distill_schedule",
        "max_grad_norm_value", "seed_per_rank", "fps", "cfg"
    ]

    /// Rewrites seed-named keys of one config layer into ours. Returns the rewritten layer and the keys it ignored.
    static func translate(_ values: [String: Any]) throws -> (values: [String: Any], ignored: [String]) {
        var out: [String: Any] = [:], ignored: [String] = []
        var rewards: [String] = []
        // The video trainers' `--t` is the frame count; SkyReels' `--use_videoalign` scores motion quality only
        // (`reward[0]['MQ']` in train_grpo_skyreels_i2v.py).
        let skyreels = "\(values["model"] ?? "")" == ModelFamily.skyreelsI2V.rawValue
        for (key, value) in values {
            let snake = key.replacingOccurrences(of: "-", with: "_")
            if let ours = renamed[snake] {
                out[ours] = value
            } else if snake == "use_hpsv2" || snake == "use_pickscore" {
                if truth(value) { rewards.append(snake == "use_hpsv2" ? "hpsv2.1" : "pickscore") }
            } else if snake == "use_lora" {
                if !truth(value) { out["loraRank"] = 0 }
            } else if snake == "use_ema" || snake == "ema_decay" {
                continue  // below, together
            } else if snake == "data_json_path" {
                // DanceGRPO reads `<cache>/videos2caption.json`; our FLUX task takes the cache folder.
                let path = "\(value)"
                out["embeddings"] = path.hasSuffix(".json") ? (path as NSString).deletingLastPathComponent : path
            } else if snake == "t", let model = values["model"] as? String, videoFamilies.contains(model) {
                out["numFrames"] = value
            } else if snake == "use_videoalign" && skyreels {
                if truth(value) { rewards.append("videoalign-mq") }
            } else if snake == "use_videoalign" || snake == "vq_coef" || snake == "mq_coef" {
                continue  // below, together
            } else if snake == "t" {
                guard "\(value)" == "1" else {
                    throw SettingsError.unsupportedValue(
                        key: key, value: "\(value)",
                        expected: "1 (frames: the image families train single frames)")
                }
                ignored.append(key)
            } else if Self.ignored.contains(snake) {
                ignored.append(key)
            } else {
                out[key] = value
            }
        }
        if let useEMA = values["use_ema"] ?? values["use-ema"] {
            out["emaDecay"] = truth(useEMA) ? (values["ema_decay"] ?? values["ema-decay"] ?? 0.995) : 0
        } else if let decay = values["ema_decay"] ?? values["ema-decay"] {
            out["emaDecay"] = decay
        }
        // VideoAlign's heads with the seed's coefficients (`--vq_coef` 1.0 and `--mq_coef` 0.0 by default): the seed
        // trains on their weighted advantages, so a head of weight 0 adds nothing to the loss and is left out.
        if !skyreels, let useVideoAlign = values["use_videoalign"] ?? values["use-videoalign"], truth(useVideoAlign) {
            for (name, key, fallback) in [("videoalign-vq", "vq_coef", 1.0), ("videoalign-mq", "mq_coef", 0.0)] {
                let given = values[key] ?? values[key.replacingOccurrences(of: "_", with: "-")]
                guard let weight = given.map({ Double("\($0)") }) ?? fallback else {
                    throw SettingsError.unsupportedValue(key: key, value: "\(given!)", expected: "a number")
                }
                if weight != 0 { rewards.append(weight == 1 ? name : "\(name):\(weight)") }
            }
        }
        if !rewards.isEmpty { out["rewards"] = rewards.joined(separator: ",") }
        return (out, ignored)
    }

    private static func truth(_ value: Any) -> Bool {
        if let b = value as? Bool { return b }
        if let n = value as? NSNumber { return n.boolValue }
        return ["true", "1", "yes"].contains("\(value)".lowercased())
    }
}
