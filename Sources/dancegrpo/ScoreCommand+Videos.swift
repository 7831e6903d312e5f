import ArgumentParser
import Checkpoints
import Foundation
import Imaging
import Rewards
import Video

extension ScoreCommand {
    /// `score --videos …`: each file decoded whole (all frames, its frame rate) and scored by the named rewards (any
    /// reward of the catalog: VideoAlign's heads score the clip, image rewards average its frames); VideoAlign's info
    /// (VQ, MQ, TA normalised and raw) is printed beside the scores.
    func scoreVideos() throws {
        let catalog = RewardCatalog.standard
        let specs: [RewardSpec]
        do { specs = try RewardSpec.parseList(reward) } catch { throw ValidationError("\(error)") }
        if let unknown = specs.first(where: { !catalog.names.contains($0.name) }) {
            throw ValidationError(
                "unknown reward '\(unknown.name)' (available: \(catalog.names.joined(separator: ", ")))")
        }
        let prompts = try PromptList.load(prompts: prompt, file: promptsFile)
        guard prompts.count == videos.count || prompts.count == 1 else {
            throw ValidationError(
                "\(videos.count) videos but \(prompts.count) prompts: give one prompt for all videos or one per video")
        }
        let paired = prompts.count == 1 ? Array(repeating: prompts[0], count: videos.count) : prompts
        var samples: [GeneratedSample] = []
        for path in videos {
            let decoded: DecodedVideo
            do { decoded = try readVideo(URL(fileURLWithPath: path)) } catch {
                throw ValidationError("\(path): \(error)")
            }
            guard !decoded.frames.isEmpty else { throw ValidationError("\(path): no frame could be decoded") }
            samples.append(.video(frames: decoded.frames, framesPerSecond: decoded.fps))
        }
        var locations = RewardLocations(directory: URL(fileURLWithPath: rewardDir))
        locations.videoAlignModel = videoalignCheckpoint.map { URL(fileURLWithPath: $0) }
        locations.videoAlignBase = videoalignBase.map { URL(fileURLWithPath: $0) }
        locations.pickScoreModel = pickscoreModel.map { URL(fileURLWithPath: $0) }
        locations.clipScoreModel = clipScoreModel.map { URL(fileURLWithPath: $0) }
        locations.hpsCheckpoint = hpsCheckpoint.map { URL(fileURLWithPath: $0) }

        var table: [[Double]] = []
        var info: [String: [Double]] = [:]
        for spec in specs {
            FileHandle.standardError.write(Data("loading \(spec.name)…\n".utf8))
            let model: any Reward
            do { model = try catalog.make(spec.name, locations: locations) } catch {
                throw ValidationError("\(spec.name): \(error)")
            }
            let progress = samples.count > 1 ? ProgressBar(total: samples.count, label: spec.name) : nil
            var scores: [Double] = []
            for (i, sample) in samples.enumerated() {
                let scored = try model.score([sample], prompts: [Prompt(text: paired[i])])
                scores += scored.scores
                for (key, values) in scored.info where info[key] == nil || info[key]!.count < scores.count {
                    info[key, default: []] += values
                }
                progress?.update(i + 1)
            }
            table.append(scores)
        }
        let infoKeys = ["VQ", "MQ", "TA", "VQ raw", "MQ raw", "TA raw"].filter { info[$0]?.count == samples.count }
        let width = min(48, videos.map { ($0 as NSString).lastPathComponent.count }.max() ?? 5)
        let columns = specs.map(\.name) + infoKeys
        print(
            "video".padding(toLength: width, withPad: " ", startingAt: 0)
                + columns.map { "  " + $0.leftPadded(12) }.joined())
        var lines = ["video,prompt," + columns.joined(separator: ",")]
        for (i, path) in videos.enumerated() {
            let values = table.map { $0[i] } + infoKeys.map { info[$0]![i] }
            let name = String((path as NSString).lastPathComponent.prefix(width))
            print(
                name.padding(toLength: width, withPad: " ", startingAt: 0)
                    + values.map { "  " + String(format: "%.6f", $0).leftPadded(12) }.joined())
            lines.append(
                ([path, paired[i]] + values.map { String(format: "%.8f", $0) }).map(Self.csvField).joined(
                    separator: ","))
        }
        try AtomicFile.write(Data((lines.joined(separator: "\n") + "\n").utf8), to: URL(fileURLWithPath: csv))
        print("wrote \(csv) (\(videos.count) videos × \(specs.count) reward\(specs.count == 1 ? "" : "s"))")
    }
}
