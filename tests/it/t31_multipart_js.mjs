// Multipart uploads through the AWS SDK for JavaScript v3 against a real cairnd: lib-storage
// Upload of a Buffer and of a stream of unknown length (parts sent 4 at a time), the part count
// and partNumber reads, an Upload aborted in flight (nothing left behind), and the raw commands
// (CreateMultipartUpload, UploadPart, ListParts, ListMultipartUploads, Complete/Abort) with their
// errors. Started by t31_multipart_js.sh, which provides CAIRN_ENDPOINT, CAIRN_AK, CAIRN_SK and
// CAIRN_REGION.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import {
	S3Client,
	AbortMultipartUploadCommand,
	CompleteMultipartUploadCommand,
	CreateBucketCommand,
	CreateMultipartUploadCommand,
	GetObjectCommand,
	HeadObjectCommand,
	ListMultipartUploadsCommand,
	ListPartsCommand,
	UploadPartCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";

const s3 = new S3Client({
	endpoint: process.env.CAIRN_ENDPOINT,
	region: process.env.CAIRN_REGION || "us-east-1",
	forcePathStyle: true,
	credentials: {
		accessKeyId: process.env.CAIRN_AK,
		secretAccessKey: process.env.CAIRN_SK,
	},
	maxAttempts: 1,
});
const Bucket = `mpjs-${randomBytes(5).toString("hex")}`;
const MiB = 1 << 20;

const sha = (b) => createHash("sha256").update(b).digest("hex");
const bytes = async (resp) => Buffer.from(await resp.Body.transformToByteArray());

async function rejects(promise, name, status) {
	try {
		await promise;
	} catch (e) {
		assert.equal(e.name, name, `${e.name}: ${e.message}`);
		if (status) assert.equal(e.$metadata?.httpStatusCode, status);
		return;
	}
	assert.fail(`expected ${name}, the call succeeded`);
}

test("bucket", async () => {
	await s3.send(new CreateBucketCommand({ Bucket }));
});

test("lib-storage Upload of a Buffer in 5 MiB parts, 4 at a time", async () => {
	const data = randomBytes(23 * MiB + 17);
	const up = new Upload({
		client: s3,
		params: { Bucket, Key: "buf.bin", Body: data },
		partSize: 5 * MiB,
		queueSize: 4,
	});
	const r = await up.done();
	assert.match(r.ETag, /-5"$/);
	const g = await s3.send(new GetObjectCommand({ Bucket, Key: "buf.bin" }));
	assert.equal(sha(await bytes(g)), sha(data));
	const h = await s3.send(new HeadObjectCommand({ Bucket, Key: "buf.bin", PartNumber: 5 }));
	assert.equal(h.PartsCount, 5);
	assert.equal(h.ContentLength, 3 * MiB + 17);
	const p2 = await s3.send(new GetObjectCommand({ Bucket, Key: "buf.bin", PartNumber: 2 }));
	assert.ok((await bytes(p2)).equals(data.subarray(5 * MiB, 10 * MiB)));
});

test("lib-storage Upload of a stream of unknown length", async () => {
	const pieces = [];
	for (let i = 0; i < 12; i++) pieces.push(randomBytes(MiB));
	const whole = Buffer.concat(pieces);
	const up = new Upload({
		client: s3,
		params: { Bucket, Key: "stream.bin", Body: Readable.from(pieces) },
		partSize: 5 * MiB,
		queueSize: 4,
	});
	const r = await up.done();
	assert.match(r.ETag, /-3"$/);
	const g = await s3.send(new GetObjectCommand({ Bucket, Key: "stream.bin" }));
	assert.equal(sha(await bytes(g)), sha(whole));
});

test("an Upload aborted in flight leaves no upload behind", async () => {
	let sent = 0;
	const body = new Readable({
		read() {
			if (sent++ < 64) this.push(randomBytes(MiB));
			else this.push(null);
		},
	});
	const up = new Upload({
		client: s3,
		params: { Bucket, Key: "aborted.bin", Body: body },
		partSize: 5 * MiB,
		queueSize: 2,
	});
	up.on("httpUploadProgress", (p) => {
		if (p.loaded >= 10 * MiB) up.abort();
	});
	await rejects(up.done(), "AbortError");
	// The SDK aborts the multipart upload; give its AbortMultipartUpload a moment.
	let left = 1;
	for (let i = 0; i < 50 && left; i++) {
		const l = await s3.send(new ListMultipartUploadsCommand({ Bucket, Prefix: "aborted" }));
		left = (l.Uploads || []).length;
		if (left) await new Promise((res) => setTimeout(res, 100));
	}
	assert.equal(left, 0);
	await rejects(s3.send(new HeadObjectCommand({ Bucket, Key: "aborted.bin" })), "NotFound", 404);
});

test("raw multipart commands, listings and errors", async () => {
	const Key = "raw.bin";
	const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
	const a = randomBytes(5 * MiB);
	const b = randomBytes(1000);
	const p1 = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: a }));
	const p2 = await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 2, Body: b }));
	const lp = await s3.send(new ListPartsCommand({ Bucket, Key, UploadId, MaxParts: 1 }));
	assert.equal(lp.Parts.length, 1);
	assert.equal(lp.IsTruncated, true);
	assert.equal(String(lp.NextPartNumberMarker), "1");
	const lu = await s3.send(new ListMultipartUploadsCommand({ Bucket, Prefix: "raw" }));
	assert.deepEqual(
		lu.Uploads.map((u) => [u.Key, u.UploadId]),
		[[Key, UploadId]],
	);
	await rejects(
		s3.send(
			new CompleteMultipartUploadCommand({
				Bucket,
				Key,
				UploadId,
				MultipartUpload: {
					Parts: [
						{ PartNumber: 2, ETag: p2.ETag },
						{ PartNumber: 1, ETag: p1.ETag },
					],
				},
			}),
		),
		"InvalidPartOrder",
		400,
	);
	await rejects(
		s3.send(
			new CompleteMultipartUploadCommand({
				Bucket,
				Key,
				UploadId,
				MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p2.ETag }] },
			}),
		),
		"InvalidPart",
		400,
	);
	const c = await s3.send(
		new CompleteMultipartUploadCommand({
			Bucket,
			Key,
			UploadId,
			MultipartUpload: {
				Parts: [
					{ PartNumber: 1, ETag: p1.ETag },
					{ PartNumber: 2, ETag: p2.ETag },
				],
			},
		}),
	);
	assert.match(c.ETag, /-2"$/);
	const g = await s3.send(new GetObjectCommand({ Bucket, Key }));
	assert.ok((await bytes(g)).equals(Buffer.concat([a, b])));
	await rejects(s3.send(new ListPartsCommand({ Bucket, Key, UploadId })), "NoSuchUpload", 404);
	const other = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: "gone" }));
	await s3.send(new AbortMultipartUploadCommand({ Bucket, Key: "gone", UploadId: other.UploadId }));
	await rejects(
		s3.send(
			new UploadPartCommand({
				Bucket,
				Key: "gone",
				UploadId: other.UploadId,
				PartNumber: 1,
				Body: "x",
			}),
		),
		"NoSuchUpload",
		404,
	);
});
