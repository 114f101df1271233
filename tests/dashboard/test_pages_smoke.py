def test_pages_render(viewer_client, mirrored):
    for url in [
        "/",
        f"/batches/{mirrored['ended'].id}/",
        f"/batches/{mirrored['running'].id}/",
        f"/batches/{mirrored['old'].id}/",
        f"/batches/{mirrored['ended'].id}/results/over-1/",
        "/errors/",
    ]:
        r = viewer_client.get(url)
        assert r.status_code == 200, (url, r.content[:3000])
