/** The OpenAPI 3.1 description of the server's JSON API (served at /openapi.json). */
export function openapiDocument() {
  const id = { type: 'string', pattern: '^[0-9]+$', description: 'unsigned 64-bit id as a decimal string' };
  const vec = { type: ['array', 'null'], items: { type: 'number' }, minItems: 3, maxItems: 3, description: '[x, y, z] in nm' };
  const cellId = { name: 'id', in: 'path', required: true, schema: id };
  const error = { description: 'bad request', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  const json = (schema: object) => ({ description: 'OK', content: { 'application/json': { schema } } });
  return {
    openapi: '3.1.0',
    info: { title: 'Wiring connectome API', version: '0.1.0', description: 'Cells, synapses and connectivity of one dataset. All ids are decimal strings; positions are nm [x, y, z]. Dataset files (Neuroglancer precomputed layers, tables) are under /data/.' },
    paths: {
      '/api/layers': {
        get: {
          summary: "The dataset's precomputed layers (for the viewer)",
          responses: { 200: json({ type: 'object', properties: { layers: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, type: { enum: ['image', 'segmentation'] }, data_type: { type: 'string' }, voxel_size: { type: 'array', items: { type: 'number' } }, size: { type: 'array', items: { type: 'integer' } }, voxel_offset: { type: 'array', items: { type: 'integer' } }, mesh: { type: 'boolean' }, skeletons: { type: 'boolean' } } } } } }) },
        },
      },
      '/api/cells': {
        get: {
          summary: 'List cells',
          parameters: [
            { name: 'cell_type', in: 'query', schema: { type: 'string' } },
            { name: 'search', in: 'query', schema: { type: 'string' }, description: 'substring of id, type or name' },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 0 } },
            { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0 } },
          ],
          responses: { 200: json({ type: 'object', properties: { total: { type: 'integer' }, cells: { type: 'array', items: { $ref: '#/components/schemas/Cell' } } } }), 400: error },
        },
      },
      '/api/annotations/synapses/info': { get: { summary: 'The synapses as a Neuroglancer precomputed annotation source (POINT at the centre, nm; property size; relationships pre_segment/post_segment; by_id; one spatial level): use as precomputed://<server>/api/annotations/synapses. Binary entries under spatial0/{i_j_k}, pre/{id}, post/{id}, by_id/{id} (404 = none)', responses: { 200: json({ type: 'object' }), 404: error } } },
      '/api/segment_properties/info': { get: { summary: 'The cells as a Neuroglancer segment property map (label = name and type, description = type and soma); use as precomputed://<server>/api/segment_properties', responses: { 200: json({ type: 'object' }) } } },
      '/api/cells/{id}': { get: { summary: 'One cell', parameters: [cellId], responses: { 200: json({ $ref: '#/components/schemas/Cell' }), 400: error, 404: error } } },
      '/api/cells/{id}/partners': {
        get: {
          summary: "A cell's input and output partners with synapse counts and summed sizes",
          parameters: [cellId],
          responses: { 200: json({ type: 'object', properties: { id, inputs: { type: 'array', items: { $ref: '#/components/schemas/Partner' } }, outputs: { type: 'array', items: { $ref: '#/components/schemas/Partner' } } } }), 400: error },
        },
      },
      '/api/cells/{id}/inputs': { get: { summary: 'Synapses onto a cell', parameters: [cellId, { name: 'limit', in: 'query', schema: { type: 'integer' } }], responses: { 200: json({ type: 'object', properties: { id, synapses: { type: 'array', items: { $ref: '#/components/schemas/Synapse' } } } }), 400: error } } },
      '/api/cells/{id}/outputs': { get: { summary: 'Synapses made by a cell', parameters: [cellId, { name: 'limit', in: 'query', schema: { type: 'integer' } }], responses: { 200: json({ type: 'object', properties: { id, synapses: { type: 'array', items: { $ref: '#/components/schemas/Synapse' } } } }), 400: error } } },
      '/api/connectivity': {
        get: {
          summary: 'Connectivity matrix by cell type',
          parameters: [{ name: 'measure', in: 'query', schema: { enum: ['count', 'binary', 'size'] } }],
          responses: { 200: json({ type: 'object', properties: { measure: { type: 'string' }, preTypes: { type: 'array', items: { type: 'string' } }, postTypes: { type: 'array', items: { type: 'string' } }, values: { type: 'array', items: { type: 'array', items: { type: 'number' } } } } }), 400: error },
        },
      },
      '/api/synapses': {
        get: {
          summary: 'Synapses whose centre lies in a box',
          parameters: [
            { name: 'box', in: 'query', schema: { type: 'string' }, description: 'x0,y0,z0,x1,y1,z1 in nm (half-open)' },
            { name: 'limit', in: 'query', schema: { type: 'integer' } },
          ],
          responses: { 200: json({ type: 'object', properties: { synapses: { type: 'array', items: { $ref: '#/components/schemas/Synapse' } } } }), 400: error },
        },
      },
      '/api/sizes': { get: { summary: 'Histogram of synapse sizes (voxels)', parameters: [{ name: 'bins', in: 'query', schema: { type: 'integer' } }], responses: { 200: json({ type: 'object', properties: { bins: { type: 'integer' }, min: { type: 'number' }, max: { type: 'number' }, counts: { type: 'array', items: { type: 'integer' } } } }) } } },
    },
    components: {
      schemas: {
        Error: { type: 'object', properties: { error: { type: 'string' } }, required: ['error'] },
        Cell: { type: 'object', properties: { pt_root_id: id, pt_position: vec, cell_type: { type: ['string', 'null'] }, classification_system: { type: ['string', 'null'] }, volume: { type: ['number', 'null'] }, name: { type: ['string', 'null'] } } },
        Partner: { type: 'object', properties: { id, cell_type: { type: ['string', 'null'] }, count: { type: 'integer' }, size_sum: { type: 'number' } } },
        Synapse: { type: 'object', properties: { id, pre_pt_root_id: id, post_pt_root_id: id, pre_pt_position: vec, post_pt_position: vec, ctr_pt_position: vec, size: { type: ['number', 'null'] } } },
      },
    },
  };
}
