// The AWS SDK for JavaScript v3 (@aws-sdk/client-s3, @aws-sdk/lib-storage) against a real cairnd,
// path-style: buckets, put/get/head/list/copy/delete, metadata, a streamed body (aws-chunked with
// a trailing checksum, as the SDK sends streams), checksum validation on GET, lib-storage Upload
// of a small body, and error names. Started by t24_js_sdk.sh, which provides CAIRN_ENDPOINT,
// CAIRN_AK, CAIRN_SK and CAIRN_REGION.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import {
	S3Client,
	CreateBucketCommand,
	DeleteBucketCommand,
	DeleteObjectCommand,
	DeleteObjectsCommand,
	GetObjectCommand,
	HeadBucketCommand,
	HeadObjectCommand,
	ListBucketsCommand,
	ListObjectsV2Command,
	CopyObjectCommand,
	PutObjectCommand,
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
const Bucket = `js-${randomBytes(5).toString("hex")}`;

const md5 = (b) => `"${createHash("md5").update(b).digest("hex")}"`;
const bytes = async (resp) => Buffer.from(await resp.Body.transformToByteArray());

async function rejects(promise, name, status) {
	try {
		await promise;
	} catch (e) {
		assert.equal(e.name, name, `${e.name}: ${e.message}`);
		assert.equal(e.$metadata?.httpStatusCode, status);
		return;
	}
	assert.fail(`expected ${name}, the call succeeded`);
}

test("create, head and list a bucket", async () => {
	await s3.send(new CreateBucketCommand({ Bucket }));
	await s3.send(new HeadBucketCommand({ Bucket }));
	const r = await s3.send(new ListBucketsCommand({}));
	assert.ok(r.Buckets.some((b) => b.Name === Bucket));
	await rejects(s3.send(new CreateBucketCommand({ Bucket })), "BucketAlreadyOwnedByYou", 409);
});

test("put and get a string and a Buffer, with headers and metadata", async () => {
	let r = await s3.send(new PutObjectCommand({ Bucket, Key: "hello.txt", Body: "hello js" }));
	assert.equal(r.ETag, md5("hello js"));
	const data = randomBytes(300000);
	r = await s3.send(
		new PutObjectCommand({
			Bucket,
			Key: "dir/data.bin",
			Body: data,
			ContentType: "application/x-js-test",
			Metadata: { origin: "node", n: "1" },
		}),
	);
	assert.equal(r.ETag, md5(data));
	const g = await s3.send(new GetObjectCommand({ Bucket, Key: "dir/data.bin" }));
	assert.equal(g.ContentType, "application/x-js-test");
	assert.deepEqual(g.Metadata, { origin: "node", n: "1" });
	assert.ok((await bytes(g)).equals(data));
	const h = await s3.send(new HeadObjectCommand({ Bucket, Key: "dir/data.bin" }));
	assert.equal(h.ContentLength, data.length);
	assert.equal(h.ETag, md5(data));
	const t = await s3.send(new GetObjectCommand({ Bucket, Key: "hello.txt" }));
	assert.equal(await t.Body.transformToString(), "hello js");
});

test("range get", async () => {
	const g = await s3.send(new GetObjectCommand({ Bucket, Key: "hello.txt", Range: "bytes=6-" }));
	assert.equal(g.ContentRange, "bytes 6-7/8");
	assert.equal(await g.Body.transformToString(), "js");
});

test("streamed body (aws-chunked, trailing checksum) and checksum-validated get", async () => {
	const data = randomBytes(1 << 20);
	const parts = [data.subarray(0, 100000), data.subarray(100000, 700000), data.subarray(700000)];
	await s3.send(
		new PutObjectCommand({
			Bucket,
			Key: "streamed.bin",
			Body: Readable.from(parts),
			ContentLength: data.length,
		}),
	);
	const g = await s3.send(
		new GetObjectCommand({ Bucket, Key: "streamed.bin", ChecksumMode: "ENABLED" }),
	);
	assert.ok((await bytes(g)).equals(data));
	assert.equal(g.ETag, md5(data));
});

test("lib-storage Upload of a small body", async () => {
	const data = randomBytes(2 << 20);
	const up = new Upload({ client: s3, params: { Bucket, Key: "upload.bin", Body: data } });
	await up.done();
	const g = await s3.send(new GetObjectCommand({ Bucket, Key: "upload.bin" }));
	assert.ok((await bytes(g)).equals(data));
});

test("list with prefix, delimiter and paging", async () => {
	for (const k of ["p/a", "p/b", "p/c", "p/sub/d"]) {
		await s3.send(new PutObjectCommand({ Bucket, Key: k, Body: k }));
	}
	let r = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: "p/", Delimiter: "/" }));
	assert.deepEqual(
		r.Contents.map((c) => c.Key),
		["p/a", "p/b", "p/c"],
	);
	assert.deepEqual(
		r.CommonPrefixes.map((p) => p.Prefix),
		["p/sub/"],
	);
	const keys = [];
	let token;
	do {
		r = await s3.send(
			new ListObjectsV2Command({ Bucket, Prefix: "p/", MaxKeys: 2, ContinuationToken: token }),
		);
		keys.push(...r.Contents.map((c) => c.Key));
		token = r.NextContinuationToken;
	} while (r.IsTruncated);
	assert.deepEqual(keys, ["p/a", "p/b", "p/c", "p/sub/d"]);
});

test("copy", async () => {
	const r = await s3.send(
		new CopyObjectCommand({ Bucket, Key: "copied.bin", CopySource: `${Bucket}/dir/data.bin` }),
	);
	const h = await s3.send(new HeadObjectCommand({ Bucket, Key: "copied.bin" }));
	assert.equal(r.CopyObjectResult.ETag, h.ETag);
	assert.deepEqual(h.Metadata, { origin: "node", n: "1" });
});

test("errors", async () => {
	await rejects(s3.send(new GetObjectCommand({ Bucket, Key: "missing" })), "NoSuchKey", 404);
	await rejects(s3.send(new HeadObjectCommand({ Bucket, Key: "missing" })), "NotFound", 404);
	await rejects(
		s3.send(new ListObjectsV2Command({ Bucket: `${Bucket}-missing` })),
		"NoSuchBucket",
		404,
	);
	await rejects(s3.send(new DeleteBucketCommand({ Bucket })), "BucketNotEmpty", 409);
});

test("delete objects and the bucket", async () => {
	const all = [];
	let r, token;
	do {
		r = await s3.send(new ListObjectsV2Command({ Bucket, ContinuationToken: token }));
		all.push(...(r.Contents || []).map((c) => c.Key));
		token = r.NextContinuationToken;
	} while (r.IsTruncated);
	for (const k of ["hello.txt", "dir/data.bin", "upload.bin", "p/a", "p/sub/d", "copied.bin"]) {
		assert.ok(all.includes(k), `${k} not listed`);
	}
	await s3.send(new DeleteObjectCommand({ Bucket, Key: all[0] }));
	const d = await s3.send(
		new DeleteObjectsCommand({ Bucket, Delete: { Objects: all.slice(1).map((Key) => ({ Key })) } }),
	);
	assert.equal(d.Deleted.length, all.length - 1);
	assert.equal(d.Errors, undefined);
	r = await s3.send(new ListObjectsV2Command({ Bucket }));
	assert.equal(r.KeyCount, 0);
	await s3.send(new DeleteBucketCommand({ Bucket }));
	await rejects(s3.send(new HeadBucketCommand({ Bucket })), "NotFound", 404);
});
